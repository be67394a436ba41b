"""The verifier over whole logs: an honest log verifies; every tampering is caught precisely."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from mpcrec.audit import merkle
from mpcrec.audit.entries import Kind, LogEntry, TreeHead, canonical_json
from mpcrec.audit.report import print_report
from mpcrec.audit.simulate import FederationLog, simulate_federation
from mpcrec.audit.verify import Report

from .conftest import rebuild, verify_lines
from .real_log import run_federation
from .test_checks import results_changed


def rules(report: Report) -> set[str]:
    return {f.rule for f in report.findings}


def findings_for(report: Report, rule: str) -> list[str]:
    return [f"{f.index}: {f.message}" for f in report.findings if f.rule == rule]


def test_honest_log_verifies(federation: FederationLog) -> None:
    report = verify_lines(federation.lines(), federation)
    assert report.ok, report.findings
    assert report.stats["rounds"] == 12
    assert report.stats["published"] == 10
    assert report.stats["aborted"] == 2
    assert report.stats["tree_heads"] == 12
    assert 0 < report.stats["epsilon"] < 8.0


def test_replicated_federation_verifies() -> None:
    sim = simulate_federation(rounds=6, instances=6, provider="replicated", cooldown=2)
    assert verify_lines(sim.lines(), sim).ok


@pytest.fixture(scope="module", params=["simulated", "real"])
def small_federation(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> FederationLog:
    """A short log of each source, to tamper with every one of its lines."""
    if request.param == "simulated":
        return simulate_federation(rounds=3, instances=5, cooldown=1, reject_every=2)
    state_dir = tmp_path_factory.mktemp("small-launcher")
    return run_federation(state_dir, rounds=2, instances=8, abort_every=0, reject_every=2)


def test_every_single_flipped_byte_is_caught(small_federation: FederationLog) -> None:
    federation = small_federation
    lines = federation.lines()
    rng = random.Random(11)
    for number, line in enumerate(lines):
        position = rng.randrange(len(line))
        flipped = bytearray(line)
        flipped[position] ^= 0x01
        tampered = [*lines[:number], bytes(flipped), *lines[number + 1 :]]
        report = verify_lines(tampered, federation)
        assert not report.ok, (number, position, line[position : position + 1])


def test_flipped_byte_in_payload_names_the_entry(federation: FederationLog) -> None:
    lines = federation.lines()
    number = next(i for i, ln in enumerate(lines) if b'"kind":"contribution"' in ln)
    entry = LogEntry.from_json(json.loads(lines[number]))
    line = lines[number]
    at = line.index(b'"digest":"') + len(b'"digest":"')
    flipped = line[:at] + (b"0" if line[at : at + 1] != b"0" else b"1") + line[at + 1 :]
    report = verify_lines([*lines[:number], flipped, *lines[number + 1 :]], federation)
    sig = findings_for(report, "signature")
    assert sig == [
        f"{entry.index}: contribution for round {entry.round}: not signed by its author "
        f"{entry.author}'s key (or the entry was altered)"
    ]
    assert "tree" in rules(report)


def test_deleted_entry_is_caught(federation: FederationLog) -> None:
    lines = federation.lines()
    number = next(i for i, ln in enumerate(lines) if b'"kind":"contribution"' in ln)
    deleted = json.loads(lines[number])["index"]
    report = verify_lines([*lines[:number], *lines[number + 1 :]], federation)
    assert findings_for(report, "sequence") == [
        f"{deleted}: the {deleted}th entry of the file carries index {deleted + 1}: "
        f"entry {deleted} was deleted"
    ]
    assert "tree" in rules(report)


def test_swapped_entries_are_caught(federation: FederationLog) -> None:
    lines = federation.lines()
    a = next(i for i, ln in enumerate(lines) if b'"kind":"committee"' in ln)
    first = json.loads(lines[a - 1])["index"]
    report = verify_lines([*lines[: a - 1], lines[a], lines[a - 1], *lines[a + 1 :]], federation)
    assert findings_for(report, "sequence") == [
        f"{first}: the {first}th entry of the file carries index {first + 1}: "
        f"entry {first} comes later in the file: entries were reordered"
    ]
    assert "tree" in rules(report)


def test_entry_signed_by_another_instance_is_caught(federation: FederationLog) -> None:
    entries = list(federation.entries)
    victim = next(e for e in entries if e.kind == Kind.CONTRIBUTION and e.author == "inst-03")
    forged = victim.sign(federation.instance_keys["inst-05"])
    entries[victim.index] = forged
    sim = FederationLog(federation.launcher_key, federation.instance_keys)
    for e in entries:  # the launcher logs the forgery and signs heads over it
        sim.place(e)
    sim.sign_head()
    report = verify_lines(sim.lines(), federation)
    assert findings_for(report, "signature") == [
        f"{victim.index}: contribution for round {victim.round}: not signed by its author "
        "inst-03's key; it is signed by inst-05's key instead (or the entry was altered)"
    ]
    assert rules(report) == {"signature"}


def test_committee_not_matching_sortition_is_caught(federation: FederationLog) -> None:
    entries = list(federation.entries)
    at = next(i for i, e in enumerate(entries) if e.kind == Kind.COMMITTEE and e.round == 3)
    honest = entries[at].payload["members"]
    chosen = [m for m in federation.instance_keys if m not in honest][:3]
    entries[at] = replace(entries[at], payload={**entries[at].payload, "members": chosen})
    # the chosen members then sign the result (colluding with the launcher)
    for i, e in enumerate(entries):
        if e.kind == Kind.RESULT_SIGNATURE and e.round == 3:
            entries[i] = replace(e, author=chosen[honest.index(e.author)])
    report = verify_lines(rebuild(federation, entries).lines(), federation)
    committee = findings_for(report, "committee")
    assert committee[0] == f"{at}: round 3: committee {chosen} is not the sortition's {honest}"
    # later rounds are judged against the committees that really served (cooldown)
    assert all(": round 3:" not in c for c in committee[1:])


def test_fork_two_inconsistent_heads_is_caught(federation: FederationLog) -> None:
    # The launcher showed some node a head over a history where round 2 had another
    # committee; later it publishes the honest log. Both heads carry its signature.
    entries = list(federation.entries)
    at = next(i for i, e in enumerate(entries) if e.kind == Kind.COMMITTEE and e.round == 2)
    dealer = "inst-01" if entries[at].payload["dealer"] == "inst-00" else "inst-00"
    other = replace(entries[at], payload={**entries[at].payload, "dealer": dealer})
    other = other.sign(federation.launcher_key)
    fork_root = merkle.root(
        [merkle.leaf_hash(e.leaf_bytes()) for e in [*entries[:at], other, *entries[at + 1 :]]][
            : at + 5
        ]
    )
    fork_head = TreeHead(at + 5, fork_root).sign(federation.launcher_key)
    lines = federation.lines()
    report = verify_lines([*lines, canonical_json(fork_head.to_json())], federation)
    fork = findings_for(report, "fork")
    assert len(fork) == 1
    assert f"tree head at line {len(lines) + 1} (size {at + 5})" in fork[0]
    assert "two inconsistent heads" in fork[0]


def test_round_published_with_too_few_contributors_is_caught(
    federation: FederationLog,
) -> None:
    entries = list(federation.entries)
    r = 6
    kept = {"inst-01", "inst-02"}
    out = [
        e
        for e in entries
        if not (e.kind == Kind.CONTRIBUTION and e.round == r and e.author not in kept)
    ]

    def keep(result: dict[str, Any]) -> dict[str, Any]:
        accepted = {i: d for i, d in result["accepted"].items() if i in kept}
        weights = {i: w for i, w in result["weights"].items() if i in kept}
        return {**result, "accepted": accepted, "rejected": {}, "weights": weights}

    out = results_changed(out, r, keep)
    report = verify_lines(rebuild(federation, out).lines(), federation)
    publish = next(
        e.index for e in rebuild(federation, out).entries if e.kind == Kind.PUBLISH and e.round == r
    )
    assert findings_for(report, "min_contributors") == [
        f"{publish}: round {r}: published with 2 accepted contributions, fewer than the minimum 3"
    ]
    assert rules(report) == {"min_contributors"}


def test_budget_overrun_is_caught() -> None:
    sim = simulate_federation(rounds=10, instances=6, cooldown=1, epsilon_budget=0.9)
    report = verify_lines(sim.lines(), sim)
    budget = findings_for(report, "budget")
    assert len(budget) == 1
    assert "exceeds the budget 0.9" in budget[0]
    assert rules(report) == {"budget"}
    assert report.stats["epsilon"] > 0.9


def test_budget_lowered_below_the_spent_epsilon_is_caught(federation: FederationLog) -> None:
    spent = verify_lines(federation.lines(), federation).stats["epsilon"]
    entries = [
        replace(e, payload={**e.payload, "epsilon_budget": spent / 2})
        if e.kind == Kind.CONFIG
        else e
        for e in federation.entries
    ]
    report = verify_lines(rebuild(federation, entries).lines(), federation)
    budget = findings_for(report, "budget")
    assert len(budget) == 1 and f"exceeds the budget {spent / 2:g}" in budget[0]
    assert rules(report) == {"budget"}


def test_tfp_and_dealer_member_are_caught(federation: FederationLog) -> None:
    entries = list(federation.entries)
    at = next(i for i, e in enumerate(entries) if e.kind == Kind.COMMITTEE and e.round == 1)
    members = entries[at].payload["members"]
    entries[at] = replace(
        entries[at], payload={**entries[at].payload, "provider": "tfp", "dealer": members[0]}
    )
    report = verify_lines(rebuild(federation, entries).lines(), federation)
    assert any("'tfp' is not allowed" in m for m in findings_for(report, "provider"))
    assert f"{at}: round 1: dealer {members[0]} is also a member" in findings_for(report, "dealer")


def test_unpinned_key_is_flagged(federation: FederationLog) -> None:
    lines = federation.lines()
    other = simulate_federation(rounds=1, instances=8, seed=99)
    report = verify_lines(lines, other)  # the auditor pinned other keys
    assert "key" in rules(report)
    assert "signature" in rules(report)


@pytest.mark.parametrize("garbage", [b"{not json", b"[1,2]", b'{"kind":"x"}'])
def test_malformed_lines_are_format_findings(federation: FederationLog, garbage: bytes) -> None:
    lines = federation.lines()
    report = verify_lines([*lines[:3], garbage, *lines[3:]], federation)
    assert any(f.rule == "format" and "line 4" in f.message for f in report.findings)


def test_wrong_reveal_is_caught(federation: FederationLog) -> None:
    sim = federation
    entries = list(sim.entries)
    at = next(i for i, e in enumerate(entries) if e.kind == Kind.SEED_REVEALS and e.round == 2)
    reveals = dict(entries[at].payload["reveals"])
    reveals["inst-01"] = "00" * 32
    entries[at] = replace(entries[at], payload={"reveals": reveals})
    report = verify_lines(rebuild(sim, entries).lines(), sim)
    assert f"{at}: round 2: the reveal of inst-01 does not open its commitment" in findings_for(
        report, "reveal"
    )


def test_heads_collected_from_nodes_expose_a_fork(
    tmp_path: Path, federation: FederationLog
) -> None:
    from mpcrec.audit.verify import verify_file

    log = tmp_path / "audit.jsonl"
    federation.write(log)
    honest = federation.heads[3]
    leaves = [merkle.leaf_hash(e.leaf_bytes()) for e in federation.entries[: honest.size]]
    leaves[-1] = merkle.leaf_hash(b"what node 7 was shown")
    shown = TreeHead(honest.size, merkle.root(leaves)).sign(federation.launcher_key)
    heads = tmp_path / "node7-heads.jsonl"
    heads.write_bytes(canonical_json(honest.to_json()) + b"\n" + canonical_json(shown.to_json()))
    report = verify_file(log, heads_paths=[heads], workers=1)
    fork = findings_for(report, "fork")
    assert len(fork) == 1 and f"tree head at {heads} line 2 (size {honest.size})" in fork[0]
    assert rules(report) == {"fork"}


def test_no_declared_budget_verifies_and_the_report_states_epsilon() -> None:
    sim = simulate_federation(
        rounds=3, instances=6, cooldown=1, noise_multiplier=0.0, epsilon_budget=None
    )
    report = verify_lines(sim.lines(), sim)
    assert report.ok, report.findings
    assert report.stats["epsilon"] == math.inf and report.stats["epsilon_budget"] is None
    assert report.stats["privacy"] == (
        "epsilon inf at delta 1e-05 (no noise); no budget declared: no differential-privacy promise"
    )
    as_json = json.loads(json.dumps(report.to_json(), allow_nan=False))  # strict JSON
    assert as_json["ok"] is True and as_json["stats"]["epsilon"] == "inf"
    console = Console(record=True, width=200)
    print_report(report, source="audit.jsonl", console=console)
    text = console.export_text()
    assert "VERIFIED" in text and "no budget declared: no differential-privacy promise" in text
    assert "holds" not in next(line for line in text.splitlines() if "│ budget" in line)


def test_declared_budget_is_reported_against_epsilon() -> None:
    sim = simulate_federation(rounds=3, instances=6, cooldown=1, epsilon_budget=5.0)
    report = verify_lines(sim.lines(), sim)
    assert report.ok, report.findings
    spent = report.stats["epsilon"]
    assert 0 < spent < 5.0
    assert report.stats["privacy"] == (
        f"epsilon {spent:.3f} at delta 1e-05 of the declared budget 5 (instance level)"
    )
    assert report.to_json()["stats"]["epsilon"] == spent


def _shape(log: FederationLog) -> list[tuple[str, int | None, bool, list[str]]]:
    """Kind, round, whether the launcher wrote it, and the payload's fields, entry by entry
    (nested result fields included)."""
    out = []
    for e in log.entries:
        fields = sorted(e.payload)
        if e.kind == Kind.RESULT_SIGNATURE:
            fields += sorted(e.payload["result"])
        out.append((e.kind, e.round, e.author == "launcher", fields))
    return out


def test_simulator_writes_the_launchers_log_format(
    simulated_log: FederationLog, real_log: FederationLog
) -> None:
    """Same entry kinds, fields and order as a real launcher run of the same schedule, and
    a head after the same entries."""
    assert _shape(simulated_log) == _shape(real_log)
    assert [h.size for h in simulated_log.heads] == [h.size for h in real_log.heads]


def test_withheld_reveal_aborts_a_real_round_before_the_draw(tmp_path: Path) -> None:
    log = run_federation(tmp_path, rounds=3, instances=8, abort_every=0, withhold_every=2)

    report = verify_lines(log.lines(), log)

    assert report.ok, report.findings
    assert (report.stats["published"], report.stats["aborted"]) == (2, 1)
    kinds = [e.kind for e in log.entries if e.round == 2]
    assert kinds == [Kind.ROUND_OPEN, *[Kind.SEED_COMMIT] * 8, Kind.ABORT]
    abort = next(e for e in log.entries if e.kind == Kind.ABORT)
    assert abort.payload["reason"] == "no reveal from ['inst-07']: seed withheld"
