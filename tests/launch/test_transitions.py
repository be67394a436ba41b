"""The transition a round is due for: the conclusion of a computing round, case by case, and
the committee draw from the reveals."""

from __future__ import annotations

import os

import pytest

from committees.seed import combine_reveals
from committees.sortition import draw_committee
from launch.memory_store import InMemoryStore
from launch.round import Phase, Round, RoundPolicy
from launch.store import Instance, MemberResult
from launch.transitions import conclude, draw, due_transition

POLICY = RoundPolicy(committee_size=2, min_contributors=2)
H1, H2 = b"\x01" * 32, b"\x02" * 32


def _computing() -> Round:
    rnd = Round.open(1, 0, ["a", "b", "c", "d"], now=0.0, policy=POLICY)
    rnd = rnd.close_commits(["a", "b", "c", "d"], now=0.0, policy=POLICY)
    rnd = rnd.draw(b"s" * 32, ["a", "b"], "", policy=POLICY)
    rnd = rnd.start_collecting(now=0.0, policy=POLICY)
    return rnd.start_computing({"c": 1.0, "d": 1.0}, now=0.0, policy=POLICY)


def _result(
    member: str, model_hash: bytes = H1, accepted: tuple[str, ...] = ("c", "d")
) -> MemberResult:
    return MemberResult(1, member, True, "", model_hash, accepted, b"")


def _failure(member: str) -> MemberResult:
    return MemberResult(1, member, False, "peer died", b"", (), b"")


@pytest.mark.parametrize(
    ("results", "late", "phase", "reason"),
    [
        ([_result("a"), _result("b")], False, Phase.PUBLISHED, ""),
        ([_result("a")], False, None, ""),
        ([_result("a")], True, Phase.ABORTED, "no result from ['b'] before the deadline"),
        ([], True, Phase.ABORTED, "no result from ['a', 'b'] before the deadline"),
        ([_result("a"), _failure("b")], False, Phase.ABORTED, "members failed: {'b': 'peer died'}"),
        ([_failure("a")], False, Phase.ABORTED, "members failed: {'a': 'peer died'}"),
        (
            [_result("a"), _result("b", accepted=("c",))],
            False,
            Phase.ABORTED,
            "members disagree on which contributions they accepted",
        ),
        (
            [_result("a", accepted=("c",)), _result("b", accepted=("c",))],
            False,
            Phase.ABORTED,
            "only 1 contributions accepted, 2 needed",
        ),
        (
            [_result("a"), _result("b", model_hash=H2)],
            False,
            Phase.ABORTED,
            "round 1: members returned different models",
        ),
    ],
)
def test_a_computing_round_concludes_only_on_agreement(
    results: list[MemberResult], late: bool, phase: Phase | None, reason: str
) -> None:
    rnd = _computing()

    concluded = conclude(rnd, {r.member: r for r in results}, late=late, policy=POLICY)

    if phase is None:
        assert concluded is None
    else:
        assert concluded is not None and concluded.phase is phase
        assert concluded.reason == reason
        assert concluded.published_version == (1 if phase is Phase.PUBLISHED else -1)


def _revealing(store: InMemoryStore, names: list[str]) -> tuple[Round, dict[str, bytes]]:
    for name in names:
        store.put_instance(Instance(name, os.urandom(32), os.urandom(32), f"{name}:1", 0.0))
    rnd = Round.open(1, 0, names, now=0.0, policy=POLICY)
    rnd = rnd.close_commits(names, now=0.0, policy=POLICY)
    return rnd, {name: os.urandom(32) for name in names}


def test_the_committee_is_drawn_from_the_combined_reveals() -> None:
    store = InMemoryStore()
    rnd, reveals = _revealing(store, ["a", "b", "c"])

    drawn = draw(rnd, reveals, store, POLICY)

    seed = combine_reveals(1, reveals)
    keys = {i.instance_id: i.signing_key for i in store.instances()}
    assert drawn.phase is Phase.COMMITTEE_DRAWN and drawn.seed == seed
    assert drawn.committee == draw_committee(seed, 1, keys, 2)


def test_too_few_eligible_instances_abort_the_draw() -> None:
    store = InMemoryStore()
    rnd, reveals = _revealing(store, ["a", "b", "c"])

    drawn = draw(rnd, {"a": reveals["a"]}, store, POLICY)

    assert drawn.phase is Phase.ABORTED
    assert drawn.reason == "1 eligible instances (cooldown 1), 2 seats"


def test_a_revealing_round_waits_for_every_reveal_until_its_deadline() -> None:
    store = InMemoryStore()
    rnd, reveals = _revealing(store, ["a", "b", "c"])
    for name in reveals:
        store.add_commit(1, name, b"c" * 32)
    store.add_reveal(1, "a", reveals["a"])

    waiting = due_transition(rnd, store, POLICY, now=rnd.deadline - 1)
    late = due_transition(rnd, store, POLICY, now=rnd.deadline)

    assert waiting is None
    assert late is not None and late.phase is Phase.ABORTED
    assert late.reason == "no reveal from ['b', 'c']: seed withheld"
