"""Committee fairness from the log: a real launcher with a hostile hook prunes participants
or aborts after the draw, and the auditor names it; the beacon is re-verified."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from launch.launcher import Launcher
from launch.round import Phase, Round
from mpcrec.audit.entries import Kind
from mpcrec.audit.simulate import FederationLog
from mpcrec.crypto.beacon import ChainInfo, LocalSigner

from .conftest import rebuild, verify_lines
from .real_log import POLICY, Federation, run_federation

COLLUDERS = frozenset({"inst-00", "inst-01"})


def _rules(log: FederationLog, **pinned: ChainInfo) -> dict[str, list[str]]:
    report = verify_lines(log.lines(), log)
    out: dict[str, list[str]] = {}
    for f in report.findings:
        out.setdefault(f.rule, []).append(f"{f.index}: {f.message}")
    return out


class PruningLauncher(Launcher):
    """Lists only the colluders and two others: the honest majority never sits."""

    def _open_next(self, last: Round | None) -> Round | None:
        rnd = super()._open_next(last)
        if rnd is None:
            return None
        kept = [p for p in rnd.participants if p in COLLUDERS] + ["inst-02", "inst-03"]
        return dataclasses.replace(rnd, participants=tuple(sorted(kept)))


class RedrawingLauncher(Launcher):
    """Aborts every drawn round whose committee lacks a colluding majority, blaming a
    silent member."""

    def _save(self, rnd: Round) -> None:
        if rnd.phase is Phase.COMMITTEE_DRAWN and len(COLLUDERS & set(rnd.committee)) < 2:
            super()._save(rnd)
            rnd = rnd.abort(f"no result from {[rnd.committee[-1]]} before the deadline")
        super()._save(rnd)


def _honest_rounds(federation: Federation, rounds: int = 4) -> None:
    """Every participant commits, reveals and contributes; members answer."""
    federation.register()
    federation.launcher.advance()
    for _ in range(rounds):
        rnd = federation.draw(strict=False)
        if rnd.phase is not Phase.COLLECTING:
            continue
        digests = federation.contribute(rnd)
        federation.compute(federation.current(Phase.COMPUTING), digests, [])


def test_the_honest_launcher_lists_every_registered_instance(real_log: FederationLog) -> None:
    rules = _rules(real_log)
    assert "participants" not in rules and "post_draw_abort" not in rules
    assert "beacon" not in rules and rules == {}


def test_a_pruned_participant_list_is_named(tmp_path: Path) -> None:
    log = run_federation(tmp_path, launcher=PruningLauncher, play=_honest_rounds)
    pruned = _rules(log)["participants"]
    opens = [e.index for e in log.entries if e.kind == Kind.ROUND_OPEN]
    assert [p.split(":")[0] for p in pruned] == [str(i) for i in opens]
    assert "inst-04, inst-05, inst-06, inst-07 left out of the participants" in pruned[0]
    assert "(4 listed of 8 registered)" in pruned[0]


def test_aborts_after_the_draw_are_named_with_the_bias_they_allow(tmp_path: Path) -> None:
    log = run_federation(tmp_path, launcher=RedrawingLauncher, play=_honest_rounds)
    report = verify_lines(log.lines(), log)
    named = [f for f in report.findings if f.rule == "post_draw_abort"]
    aborted = [e for e in log.entries if e.kind == Kind.ABORT]
    assert named and [f.index for f in named] == [e.index for e in aborted]
    assert "aborted after its committee was drawn" in named[0].message
    draws = report.stats["draws"]
    assert draws["post_draw_aborts"] == draws["unexplained_post_draw_aborts"] == len(aborted)
    assert draws["max_redraws"] >= 1 and f"at most {draws['max_redraws'] + 1}" in draws["bias"]


def test_an_abort_for_too_few_contributions_is_allowed(real_log: FederationLog) -> None:
    draws = verify_lines(real_log.lines(), real_log).stats["draws"]
    assert (draws["post_draw_aborts"], draws["unexplained_post_draw_aborts"]) == (2, 0)


def test_an_abort_that_the_signed_results_contradict_is_named(real_log: FederationLog) -> None:
    # round 3 published; a launcher that aborted it instead, holding every member's
    # signature over one sufficient result
    entries = list(real_log.entries)
    at = next(i for i, e in enumerate(entries) if e.kind == Kind.PUBLISH and e.round == 3)
    abort = dataclasses.replace(
        entries[at], kind=Kind.ABORT, payload={"reason": "members failed: {}", "missing": []}
    )
    entries[at] = abort
    rules = _rules(rebuild(real_log, entries))
    assert any(
        "round 3 aborted after its committee was drawn" in m for m in rules["post_draw_abort"]
    )


def _committee_edit(log: FederationLog, r: int, **beacon: object) -> FederationLog:
    entries = list(log.entries)
    at = next(i for i, e in enumerate(entries) if e.kind == Kind.COMMITTEE and e.round == r)
    payload = dict(entries[at].payload)
    payload["beacon"] = {**payload["beacon"], **beacon}
    entries[at] = dataclasses.replace(entries[at], payload=payload)
    return rebuild(log, entries)


def test_a_beacon_not_signed_by_the_chain_is_named(federation: FederationLog) -> None:
    other = LocalSigner(bytes(32)).chain(genesis_time=0, period=1)
    entries = list(federation.entries)
    at = next(i for i, e in enumerate(entries) if e.kind == Kind.COMMITTEE and e.round == 2)
    forged = LocalSigner(bytes(32)).sign(other, entries[at].payload["beacon"]["round"])
    edited = _committee_edit(federation, 2, **forged.to_json())
    rules = _rules(edited)
    assert any("round 2: the signature of beacon round" in m for m in rules["beacon"])
    assert any("round 2: the committee's seed" in m for m in rules["seed"])


def test_a_beacon_of_another_round_is_named(federation: FederationLog) -> None:
    entries = list(federation.entries)
    at = next(i for i, e in enumerate(entries) if e.kind == Kind.COMMITTEE and e.round == 4)
    earlier = next(e for e in entries if e.kind == Kind.COMMITTEE and e.round == 3)
    payload = {**entries[at].payload, "beacon": earlier.payload["beacon"]}
    entries[at] = dataclasses.replace(entries[at], payload=payload)
    assert any(
        "round 4: beacon of round" in m for m in _rules(rebuild(federation, entries))["beacon"]
    )


def test_a_round_bound_to_a_beacon_round_already_used_is_named(federation: FederationLog) -> None:
    entries = list(federation.entries)
    at = next(i for i, e in enumerate(entries) if e.kind == Kind.ROUND_OPEN and e.round == 4)
    used = next(e for e in entries if e.kind == Kind.ROUND_OPEN and e.round == 3)
    payload = {**entries[at].payload, "beacon_round": used.payload["beacon_round"]}
    entries[at] = dataclasses.replace(entries[at], payload=payload)
    rules = _rules(rebuild(federation, entries))
    assert any("is not after the previous rounds'" in m for m in rules["beacon"])


def test_a_log_without_a_beacon_fails_a_pinned_chain(federation: FederationLog) -> None:
    entries = [e for e in federation.entries]
    config = entries[0]
    payload = {k: v for k, v in config.payload.items() if k != "beacon"}
    entries[0] = dataclasses.replace(config, payload=payload)
    unpinned = verify_lines(rebuild(federation, entries).lines(), federation)
    assert not [f for f in unpinned.findings if f.rule == "beacon"]  # commit-reveal only
    pinned = ChainInfo.from_json(config.payload["beacon"])
    from mpcrec.audit.verify import parse_lines, verify_entries

    parsed, heads, _ = parse_lines(rebuild(federation, entries).lines())
    report = verify_entries(parsed, heads, pinned_beacon=pinned)
    assert next(f.message for f in report.findings if f.rule == "beacon") == (
        "the config declares no beacon chain"
    )


def test_the_policy_of_the_fixture_needs_more_than_the_colluders() -> None:
    assert POLICY.committee_size == 3 and len(COLLUDERS) == 2
