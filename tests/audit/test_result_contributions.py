"""Members sign the digest of a result's contributions; the launcher logs the maps apart
(:mod:`mpcrec.audit.result_contributions`). The auditor rebuilds every result from them and
checks what it checked before; a log written before the digest still verifies."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry
from mpcrec.audit.result_contributions import contributions_digest, is_compact
from mpcrec.audit.simulate import FederationLog, simulate_federation
from mpcrec.audit.verify import verify_file

from .conftest import rebuild, verify_lines
from .test_checks import results_changed

DATA = Path(__file__).parent / "data"


def _findings(log: FederationLog, entries: list[LogEntry]) -> list[tuple[str, str]]:
    """``(rule, message)`` of every finding over ``entries`` logged as they are (no entry
    re-signed but those the caller re-signed), under fresh launcher heads."""
    placed = FederationLog(log.launcher_key, log.instance_keys)
    for entry in entries:
        placed.place(entry)
        if entry.kind in (Kind.PUBLISH, Kind.ABORT):
            placed.sign_head()
    placed.sign_head()
    report = verify_lines(placed.lines(), log)
    return [(f.rule, f.message) for f in report.findings]


def _launcher_signed(log: FederationLog, entry: LogEntry, **payload: object) -> LogEntry:
    """``entry`` with ``payload`` changed and signed again by the launcher only."""
    changed = replace(entry, payload={**entry.payload, **payload}, signature=b"")
    return changed.sign(log.launcher_key).at(entry.index)


def test_members_sign_the_digest_and_the_log_holds_the_maps(federation: FederationLog) -> None:
    results = [e for e in federation.entries if e.kind == Kind.RESULT_SIGNATURE]
    assert results and all(is_compact(e.payload["result"]) for e in results)
    for e in results:  # the maps once a round, before its first result
        maps = [
            m
            for m in federation.entries[: e.index]
            if m.kind == Kind.RESULT_CONTRIBUTIONS and m.round == e.round
        ]
        assert len(maps) == 1 and maps[0].author == LAUNCHER
        digest = contributions_digest(maps[0].payload).hex()
        assert e.payload["result"]["contributions"] == digest
    assert verify_lines(federation.lines(), federation).ok


def test_a_log_written_before_the_digest_still_verifies() -> None:
    """The export of a real launcher run on main at 65cc654 (maps in every result), and a
    simulated log in that form."""
    old = verify_file(DATA / "log-65cc654.jsonl", keys_path=DATA / "keys-65cc654.json")
    assert old.ok, old.findings
    assert old.stats["entries"] == 92
    full = simulate_federation(rounds=6, instances=8, reject_every=2, full_results=True)
    assert not any(e.kind == Kind.RESULT_CONTRIBUTIONS for e in full.entries)
    assert verify_lines(full.lines(), full).ok


def test_maps_the_launcher_altered_or_left_out_are_named(federation: FederationLog) -> None:
    r = next(e.round for e in federation.entries if e.kind == Kind.PUBLISH)
    maps = [e for e in federation.entries if e.kind == Kind.RESULT_CONTRIBUTIONS and e.round == r]
    victim = sorted(maps[0].payload["accepted"])[0]
    dropped = {k: v for k, v in maps[0].payload["accepted"].items() if k != victim}
    entries = list(federation.entries)
    for m in maps:  # altered and signed again by the launcher
        entries[m.index] = _launcher_signed(federation, m, accepted=dropped)
    assert _findings(federation, list(federation.entries)) == []
    left_out = [e for e in entries if e.kind != Kind.RESULT_CONTRIBUTIONS or e.round != r]
    for altered in (entries, left_out):
        found = _findings(federation, altered)  # the maps altered, then left out
        unmatched = [m for rule, m in found if rule == "contribution" and "no result_c" in m]
        assert len(unmatched) == 3, found  # each member's result
        assert not {"tree", "signature"} & {rule for rule, _ in found}


def test_maps_after_the_result_or_from_another_round_do_not_count(
    federation: FederationLog,
) -> None:
    r = next(e.round for e in federation.entries if e.kind == Kind.PUBLISH)
    entries = list(federation.entries)
    first = next(e for e in entries if e.kind == Kind.RESULT_CONTRIBUTIONS and e.round == r)
    result = entries[first.index + 1]
    entries[first.index], entries[first.index + 1] = result, first  # the maps after the result
    found = [m for _, m in _findings(federation, rebuild(federation, entries).entries)]
    assert any(f"round {r}: {result.author} signed contributions" in m for m in found), found
    entries = list(federation.entries)
    other = next(e for e in entries if e.kind == Kind.RESULT_CONTRIBUTIONS and e.round != r)
    entries[first.index] = replace(other, round=r)  # another round's maps
    found = [m for _, m in _findings(federation, rebuild(federation, entries).entries)]
    assert any(f"round {r}: {result.author} signed contributions" in m for m in found), found


def test_colluding_members_signing_a_dropped_contribution_are_still_caught(
    federation: FederationLog,
) -> None:
    """Maps and digests consistent, every entry re-signed: the rules over the rebuilt
    result judge it as they judged a full one."""
    r = next(e.round for e in federation.entries if e.kind == Kind.PUBLISH)

    def drop(result: dict[str, object]) -> dict[str, object]:
        accepted = dict(result["accepted"])  # type: ignore[call-overload]
        accepted.pop(sorted(accepted)[0])
        return {**result, "accepted": accepted}

    forged = rebuild(federation, results_changed(list(federation.entries), r, drop))
    report = verify_lines(forged.lines(), federation)
    assert {f.rule for f in report.findings} == {"contribution"}
    assert "neither accepted nor rejected with its digest" in report.findings[0].message
