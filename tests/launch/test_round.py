"""The round state machine: every allowed path works, every other transition raises."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from launch.round import ALLOWED, Phase, Round, RoundPolicy, RoundStateError
from mpcrec.errors import ConfigError

POLICY = RoundPolicy(
    committee_size=2, min_contributors=2, commit_s=1, reveal_s=2, collect_s=3, compute_s=4
)
PEOPLE = ["d", "a", "c", "b"]


def _at(phase: Phase) -> Round:
    """A round brought to ``phase`` by the allowed path."""
    rnd = Round.open(7, 3, PEOPLE, now=100.0, policy=POLICY)
    steps: list[Callable[[Round], Round]] = [
        lambda r: r.close_commits(PEOPLE, now=101.0, policy=POLICY),
        lambda r: r.draw(b"seed", ["c", "a"], "", policy=POLICY),
        lambda r: r.start_collecting(now=102.0, policy=POLICY),
        lambda r: r.start_computing({"b": 1.0, "a": 2.0}, now=103.0, policy=POLICY),
        lambda r: r.publish({"a": b"h", "c": b"h"}),
    ]
    order = [Phase.REVEALING, Phase.COMMITTEE_DRAWN, Phase.COLLECTING, Phase.COMPUTING]
    if phase is Phase.ABORTED:
        return rnd.abort("test")
    for step, reached in zip(steps, [*order, Phase.PUBLISHED], strict=True):
        if rnd.phase is phase:
            break
        rnd = step(rnd)
        assert rnd.phase is reached
    return rnd


TRANSITIONS: dict[Phase, Callable[[Round], Round]] = {
    Phase.REVEALING: lambda r: r.close_commits(PEOPLE, now=0.0, policy=POLICY),
    Phase.COMMITTEE_DRAWN: lambda r: r.draw(b"s", ["a", "b"], "", policy=POLICY),
    Phase.COLLECTING: lambda r: r.start_collecting(now=0.0, policy=POLICY),
    Phase.COMPUTING: lambda r: r.start_computing({"a": 1.0, "b": 1.0}, now=0.0, policy=POLICY),
    Phase.PUBLISHED: lambda r: r.publish({m: b"h" for m in r.committee}),
    Phase.ABORTED: lambda r: r.abort("x"),
}


@pytest.mark.parametrize("source", list(Phase))
@pytest.mark.parametrize("target", list(TRANSITIONS))
def test_every_transition_not_allowed_raises(source: Phase, target: Phase) -> None:
    rnd = _at(source)
    assert rnd.phase is source

    if target in ALLOWED[source]:
        assert TRANSITIONS[target](rnd).phase is target
    else:
        with pytest.raises(RoundStateError):
            TRANSITIONS[target](rnd)


def test_happy_path_fixes_deadlines_committee_and_frozen_contributions() -> None:
    opened = Round.open(7, 3, PEOPLE, now=100.0, policy=POLICY)
    assert opened.participants == ("a", "b", "c", "d") and opened.deadline == 101.0

    rnd = _at(Phase.COMPUTING)

    assert rnd.committee == ("c", "a") and rnd.seed == b"seed"
    assert rnd.contributors == ("a", "b") and rnd.weights == (2.0, 1.0)
    assert rnd.deadline == 107.0
    published = rnd.publish({"a": b"h", "c": b"h"})
    assert published.published_version == 4 and published.model_version == 3


def test_too_few_commitments_abort() -> None:
    rnd = Round.open(1, 0, PEOPLE, now=0.0, policy=POLICY)

    ended = rnd.close_commits(["a"], now=1.0, policy=POLICY)

    assert ended.phase is Phase.ABORTED and "1 commitments" in ended.reason
    assert ended.published_version == -1


def test_dealer_needs_a_seat_too() -> None:
    policy = RoundPolicy(committee_size=2, min_contributors=1, dealer=True)
    rnd = Round.open(1, 0, PEOPLE, now=0.0, policy=policy)

    assert rnd.close_commits(["a", "b"], now=1.0, policy=policy).phase is Phase.ABORTED
    assert rnd.close_commits(["a", "b", "c"], now=1.0, policy=policy).phase is Phase.REVEALING


def test_too_few_contributions_abort_without_moving_the_model() -> None:
    rnd = _at(Phase.COLLECTING)

    ended = rnd.start_computing({"a": 1.0}, now=0.0, policy=POLICY)

    assert ended.phase is Phase.ABORTED and ended.published_version == -1


@pytest.mark.parametrize(
    ("committee", "dealer", "policy"),
    [
        (["a"], "", POLICY),
        (["a", "a"], "", POLICY),
        (["a", "b"], "c", POLICY),
        (["a", "b"], "", RoundPolicy(committee_size=2, dealer=True)),
        (["a", "b"], "a", RoundPolicy(committee_size=2, dealer=True)),
    ],
)
def test_bad_committee_or_dealer_raises(
    committee: list[str], dealer: str, policy: RoundPolicy
) -> None:
    rnd = _at(Phase.REVEALING)

    with pytest.raises(RoundStateError):
        rnd.draw(b"s", committee, dealer, policy=policy)


def test_publish_needs_every_member_and_the_same_model() -> None:
    rnd = _at(Phase.COMPUTING)

    with pytest.raises(RoundStateError, match="no result yet"):
        rnd.publish({"a": b"h"})
    with pytest.raises(RoundStateError, match="different models"):
        rnd.publish({"a": b"h", "c": b"other"})


def test_admission_of_messages_by_state_and_role() -> None:
    opened = _at(Phase.OPEN)
    opened.admit_commit("a")
    with pytest.raises(RoundStateError, match="not a participant"):
        opened.admit_commit("stranger")
    with pytest.raises(RoundStateError):
        opened.admit_reveal("a", ["a"])

    revealing = _at(Phase.REVEALING)
    revealing.admit_reveal("a", ["a"])
    with pytest.raises(RoundStateError, match="no commitment"):
        revealing.admit_reveal("b", ["a"])
    with pytest.raises(RoundStateError):
        revealing.admit_commit("a")

    collecting = _at(Phase.COLLECTING)
    collecting.admit_contribution("b", ["c", "a"])
    with pytest.raises(RoundStateError, match="addressed to"):
        collecting.admit_contribution("b", ["a", "c"])
    with pytest.raises(RoundStateError):
        collecting.admit_member("a")

    computing = _at(Phase.COMPUTING)
    computing.admit_member("c")
    with pytest.raises(RoundStateError, match="not on the committee"):
        computing.admit_member("b")
    with pytest.raises(RoundStateError):
        computing.admit_contribution("b", ["c", "a"])


@pytest.mark.parametrize(
    "kwargs",
    [{"committee_size": 0}, {"min_contributors": 0}, {"cooldown": 0}, {"collect_s": 0.0}],
)
def test_bad_policy_is_a_config_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RoundPolicy(**kwargs)  # type: ignore[arg-type]
