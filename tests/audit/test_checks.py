"""Each check on its own, over a replayed simulated log with one rule broken."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from mpcrec.audit import checks
from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry
from mpcrec.audit.history import History, replay
from mpcrec.audit.result_contributions import compact, expanded, is_compact, maps_of
from mpcrec.audit.simulate import FederationLog, simulate_federation
from mpcrec.privacy.accountant import gaussian_epsilon


def edited(
    sim: FederationLog, kind: str, rnd: int, change: Callable[[LogEntry], LogEntry | None]
) -> list[LogEntry]:
    """The log with the first ``kind`` entry of round ``rnd`` changed (or dropped: None)."""
    out: list[LogEntry] = []
    done = False
    for entry in sim.entries:
        if not done and entry.kind == kind and entry.round == rnd:
            done = True
            new = change(entry)
            if new is not None:
                out.append(new)
            continue
        out.append(entry)
    assert done
    return out


def results_changed(
    entries: list[LogEntry],
    rnd: int,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    first: bool = False,
) -> list[LogEntry]:
    """Round ``rnd``'s signed results (``first``: the first only) changed as their signers
    would sign them: ``change`` maps the full result to another; a compact result's digest
    and the ``result_contributions`` entry before it follow it (re-sign to keep the
    signatures: :func:`tests.audit.conftest.rebuild`)."""
    out: list[LogEntry] = []
    maps_at, done = -1, False
    for e in entries:
        if e.round == rnd and e.kind == Kind.RESULT_CONTRIBUTIONS:
            maps_at, maps = len(out), e
        elif e.round == rnd and e.kind == Kind.RESULT_SIGNATURE and not (first and done):
            done, result = True, e.payload["result"]
            if is_compact(result):
                full = expanded(result, maps.payload)
                assert full is not None
                new = change(full)
                changed = replace(maps, payload=maps_of(new))
                if first:
                    out.append(changed)  # its own maps: the other members' stay as they are
                else:
                    out[maps_at] = changed
                result = compact(new)
            else:
                result = change(dict(result))
            e = replace(e, payload={**e.payload, "result": result})
        out.append(e)
    assert done
    return out


def history_of(entries: list[LogEntry]) -> History:
    history, findings = replay(entries)
    assert findings == []
    return history


def with_payload(**fields: object) -> Callable[[LogEntry], LogEntry]:
    return lambda e: replace(e, payload={**e.payload, **fields})


def test_every_check_passes_on_the_honest_log(federation: FederationLog) -> None:
    history = history_of(federation.entries)
    assert checks.check_sequence(federation.entries) == []
    keys = {**history.signing_keys(), LAUNCHER: history.launcher_key() or b""}
    assert checks.check_signatures(federation.entries, keys) == []
    heads = [(f"line {i}", h) for i, h in enumerate(federation.heads)]
    assert checks.check_tree(federation.entries, heads, keys[LAUNCHER]) == []
    assert checks.check_seeds(history) == []
    assert checks.check_committees(history) == []
    assert checks.check_results(history) == []
    assert checks.check_versions(history) == []
    assert checks.check_budget(history)[0] == []


@pytest.mark.parametrize(
    ("source", "noise_multiplier", "sample_rate"),
    [("simulated_log", 1.0, 0.01), ("real_log", 4.0, 1.0)],
)
def test_budget_epsilon_equals_the_accountant(
    request: pytest.FixtureRequest, source: str, noise_multiplier: float, sample_rate: float
) -> None:
    federation: FederationLog = request.getfixturevalue(source)
    findings, epsilon = checks.check_budget(history_of(federation.entries))
    assert findings == []
    expected = gaussian_epsilon(
        noise_multiplier=noise_multiplier, steps=10, delta=1e-5, sample_rate=sample_rate
    )
    assert epsilon == pytest.approx(expected, rel=1e-12)


def test_reveal_that_does_not_open_its_commitment(federation: FederationLog) -> None:
    def swap(e: LogEntry) -> LogEntry:
        reveals = dict(e.payload["reveals"])
        reveals["inst-02"] = "ab" * 32
        return replace(e, payload={"reveals": reveals})

    found = checks.check_seeds(history_of(edited(federation, Kind.SEED_REVEALS, 3, swap)))
    messages = [f.message for f in found]
    assert "round 3: the reveal of inst-02 does not open its commitment" in messages
    assert any(
        m.startswith("round 3: the committee's seed is not the combination of the reveals")
        for m in messages
    )


def test_withheld_reveal_must_abort(federation: FederationLog) -> None:
    def drop(e: LogEntry) -> LogEntry:
        reveals = {i: s for i, s in e.payload["reveals"].items() if i != "inst-06"}
        return replace(e, payload={"reveals": reveals})

    found = checks.check_seeds(history_of(edited(federation, Kind.SEED_REVEALS, 2, drop)))
    assert any(
        f.rule == "reveal" and "committee drawn although inst-06 did not reveal" in f.message
        for f in found
    )


def test_cooldown_violation(federation: FederationLog) -> None:
    entries = [
        replace(e, payload={**e.payload, "cooldown": 3}) if e.kind == Kind.CONFIG else e
        for e in federation.entries
    ]
    found = checks.check_committees(history_of(entries))
    assert {f.rule for f in found} >= {"cooldown", "committee"}
    assert any("within the last 2 rounds (cooldown 3)" in f.message for f in found)


def test_replicated_needs_three_members_and_no_dealer(federation: FederationLog) -> None:
    entries = edited(federation, Kind.COMMITTEE, 1, with_payload(provider="replicated"))
    found = checks.check_committees(history_of(entries))
    assert any(
        f.rule == "provider" and "replicated needs 3 members, no dealer" in f.message for f in found
    )


def test_dealer_not_the_sortitions(federation: FederationLog) -> None:
    history = history_of(federation.entries)
    record = next(r for r in history.rounds if r.round_id == 2)
    assert record.committee is not None
    outsider = next(
        i
        for i in history.registrations
        if i not in record.members and i != record.committee.payload["dealer"]
    )
    found = checks.check_committees(
        history_of(edited(federation, Kind.COMMITTEE, 2, with_payload(dealer=outsider)))
    )
    assert [f.rule for f in found] == ["dealer"]


def test_published_hash_not_signed(federation: FederationLog) -> None:
    entries = edited(federation, Kind.PUBLISH, 6, with_payload(model_hash="cd" * 32))
    found = checks.check_results(history_of(entries))
    assert [(f.rule, f.message) for f in found] == [
        ("model_hash", "round 6: the published model hash is not the one the members signed")
    ]


def test_member_signature_missing(federation: FederationLog) -> None:
    entries = edited(federation, Kind.RESULT_SIGNATURE, 7, lambda e: None)
    found = checks.check_results(history_of(entries))
    assert [f.rule for f in found] == ["member_signatures"]
    assert "published without the signature of member(s)" in found[0].message


def test_contribution_dropped_from_result(federation: FederationLog) -> None:
    def forget(result: dict[str, Any]) -> dict[str, Any]:
        accepted = {i: d for i, d in result["accepted"].items() if i != "inst-04"}
        return {**result, "accepted": accepted}

    entries = results_changed(list(federation.entries), 1, forget)
    found = checks.check_results(history_of(entries))
    assert [f.message for f in found] == [
        "round 1: contribution of inst-04 is neither accepted nor rejected with its digest"
    ]


def test_version_skip(federation: FederationLog) -> None:
    entries = edited(federation, Kind.ROUND_OPEN, 3, with_payload(model_version=7))
    found = checks.check_versions(history_of(entries))
    assert found[0].rule == "version"
    assert "round 3 opens on model version 7, but the latest published is 2" in found[0].message


@pytest.mark.parametrize(
    ("kind", "rnd", "why"),
    [
        (Kind.COMMITTEE, 1, "drawn before the seed reveals"),
        (Kind.ROUND_OPEN, 2, "round 1 has neither published nor aborted"),
    ],
)
def test_replay_flags_protocol_order(
    federation: FederationLog, kind: str, rnd: int, why: str
) -> None:
    entries = list(federation.entries)
    if kind == Kind.COMMITTEE:
        entries = [e for e in entries if not (e.kind == Kind.SEED_REVEALS and e.round == rnd)]
    else:
        entries = [e for e in entries if not (e.kind == Kind.PUBLISH and e.round == rnd - 1)]
    _, findings = replay(entries)
    assert any(f.rule == "order" and why in f.message for f in findings), findings


def test_replay_flags_malformed_payload(federation: FederationLog) -> None:
    entries = edited(federation, Kind.CONTRIBUTION, 1, with_payload(digest="zz"))
    _, findings = replay(entries)
    assert [f.rule for f in findings] == ["format"]
    assert "field 'digest' has a malformed value" in findings[0].message


def test_budget_names_the_first_round_over_budget() -> None:
    sim = simulate_federation(rounds=12, instances=6, cooldown=1, epsilon_budget=0.9)
    findings, epsilon = checks.check_budget(history_of(sim.entries))
    over = [
        n
        for n in range(1, 13)
        if gaussian_epsilon(noise_multiplier=1.0, steps=n, delta=1e-5, sample_rate=0.01) > 0.9
    ]
    publish = next(e for e in sim.entries if e.kind == Kind.PUBLISH and e.round == over[0])
    assert [(f.rule, f.index) for f in findings] == [("budget", publish.index)]
    assert f"round {over[0]}: cumulative epsilon" in findings[0].message
    assert epsilon == pytest.approx(
        gaussian_epsilon(noise_multiplier=1.0, steps=12, delta=1e-5, sample_rate=0.01)
    )


def test_replay_flags_unregistered_authors_and_participants(
    federation: FederationLog,
) -> None:
    entries = edited(federation, Kind.CONTRIBUTION, 1, lambda e: replace(e, author="sybil"))
    entries = [
        replace(e, payload={**e.payload, "participants": [*e.payload["participants"], "ghost"]})
        if e.kind == Kind.ROUND_OPEN and e.round == 2
        else e
        for e in entries
    ]
    _, findings = replay(entries)
    assert [(f.rule, f.message) for f in findings] == [
        ("registry", "contribution by 'sybil' before it registered"),
        ("registry", "unregistered participants ['ghost']"),
    ]


@pytest.mark.parametrize("noise_multiplier", [0.0, 1.0])
def test_budget_without_a_declared_budget_finds_nothing_but_counts_epsilon(
    noise_multiplier: float,
) -> None:
    sim = simulate_federation(
        rounds=4, instances=6, cooldown=1, noise_multiplier=noise_multiplier, epsilon_budget=None
    )
    findings, epsilon = checks.check_budget(history_of(sim.entries))
    assert findings == []
    if noise_multiplier == 0.0:
        assert epsilon == math.inf
    else:
        assert epsilon == pytest.approx(
            gaussian_epsilon(noise_multiplier=1.0, steps=4, delta=1e-5, sample_rate=0.01)
        )


def test_budget_declared_without_noise_names_the_first_published_round() -> None:
    sim = simulate_federation(
        rounds=3, instances=6, cooldown=1, noise_multiplier=0.0, epsilon_budget=8.0
    )
    findings, epsilon = checks.check_budget(history_of(sim.entries))
    publish = next(e for e in sim.entries if e.kind == Kind.PUBLISH and e.round == 1)
    assert [(f.rule, f.index) for f in findings] == [("budget", publish.index)]
    assert findings[0].message == (
        "round 1: cumulative epsilon inf at delta 1e-05 exceeds the budget 8"
    )
    assert epsilon == math.inf


def test_replay_flags_a_commitment_for_more_than_its_round(federation: FederationLog) -> None:
    entries = edited(federation, Kind.SEED_COMMIT, 2, with_payload(last_round=9))
    changed = next(e for e in entries if e.kind == Kind.SEED_COMMIT and e.round == 2)
    _, findings = replay(entries)
    assert [(f.rule, f.index) for f in findings] == [("format", changed.index)]
    assert "serves its own round only" in findings[0].message
