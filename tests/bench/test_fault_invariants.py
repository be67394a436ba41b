"""The fault suite's invariants, each shown to catch what it names."""

from __future__ import annotations

import dataclasses

from launch.round import Phase, Round
from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry
from mpcrec.audit.history import History, RoundRecord
from mpcrec.bench.fault_invariants import (
    StoreView,
    check_contributions,
    check_epsilon,
    check_signed_model,
    check_versions,
    violations,
)

HASH = "ab" * 32


def _round(round_id: int, base: int, phase: Phase = Phase.PUBLISHED, **kw: object) -> Round:
    published = base + 1 if phase is Phase.PUBLISHED else -1
    fields = {"committee": ("m1",), "contributors": ("a", "b"), "published_version": published}
    fields.update(kw)
    return Round(round_id, base, phase, 0.0, ("a", "b", "m1"), **fields)  # type: ignore[arg-type]


def _entry(kind: Kind, round_id: int, author: str = LAUNCHER, **payload: object) -> LogEntry:
    return LogEntry(kind, round_id, author, payload)


def _record(round_id: int, *, signed: str = HASH) -> RoundRecord:
    result: dict[str, object] = {"model_hash": signed, "accepted": {"a": "00", "b": "00"}}
    result["rejected"] = {}
    result |= {"noise_multiplier": 1.0, "sample_rate": 1.0}
    return RoundRecord(
        round_id,
        opened=_entry(Kind.ROUND_OPEN, round_id),
        config=None,
        contributions={c: _entry(Kind.CONTRIBUTION, round_id, c) for c in ("a", "b")},
        signatures={"m1": _entry(Kind.RESULT_SIGNATURE, round_id, "m1", result=result)},
        published=_entry(Kind.PUBLISH, round_id, model_hash=HASH),
    )


def _store(*rounds: Round, revealed: frozenset[int] = frozenset()) -> StoreView:
    versions = [r.published_version for r in rounds if r.phase is Phase.PUBLISHED]
    return StoreView(
        rounds,
        {v: HASH for v in [0, *versions]},
        {r.round_id: frozenset(r.contributors) for r in rounds},
        revealed or frozenset(r.round_id for r in rounds if r.phase is Phase.PUBLISHED),
    )


def test_a_consistent_store_and_log_break_nothing() -> None:
    store = _store(_round(1, 0), _round(2, 1, Phase.ABORTED, contributors=()), _round(3, 1))
    history = History(rounds=[_record(1), _record(3)])
    store = dataclasses.replace(store, contributions={1: frozenset("ab"), 3: frozenset("ab")})
    assert violations(store, history, [(1, "a"), (3, "b")]) == {
        "versions": [],
        "signed_model": [],
        "contributions": [],
        "epsilon": [],
    }


def test_a_version_that_skips_or_does_not_move_is_named() -> None:
    assert check_versions(_store(_round(1, 0), _round(2, 0)))
    skipped = _store(_round(1, 0), _round(2, 1, published_version=3))
    assert any("published v3" in v for v in check_versions(skipped))


def test_a_published_model_nobody_signed_is_named() -> None:
    history = History(rounds=[_record(1, signed="cd" * 32)])
    assert check_signed_model(_store(_round(1, 0)), history) == [
        "round 1: m1 did not sign the published model"
    ]
    assert check_signed_model(_store(_round(1, 0)), History())


def test_a_lost_or_doubled_contribution_is_named() -> None:
    history = History(rounds=[_record(1)])
    lost = check_contributions(_store(_round(1, 0)), history, [(1, "c")])
    assert lost == ["round 1: the acknowledged upload of c is lost"]
    doubled = _store(_round(1, 0, contributors=("a", "a", "b")))
    assert any("frozen twice" in v for v in check_contributions(doubled, history, []))
    dropped = _store(_round(1, 0, contributors=("a",)))
    dropped = dataclasses.replace(dropped, contributions={1: frozenset("ab")})
    assert any("froze ['a']" in v for v in check_contributions(dropped, history, []))


def test_a_revealed_result_the_log_does_not_count_in_epsilon_is_named() -> None:
    aborted = _round(2, 1, Phase.ABORTED)
    store = _store(_round(1, 0), aborted, revealed=frozenset({1, 2}))
    found = check_epsilon(store, History(rounds=[_record(1)]))
    assert found[0] == "round 2: a member's result reached the launcher, the log counts no ε for it"
