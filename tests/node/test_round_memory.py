"""A node's memory of recent rounds (mpcrec.node.round_memory): each step once, a step cut
short taken again, old rounds' steps and secrets forgotten."""

from __future__ import annotations

from mpcrec.federation.announcement import Phase, RoundAnnouncement
from mpcrec.node.round_memory import REMEMBERED_ROUNDS, RoundMemory


def test_each_step_of_a_round_is_taken_once() -> None:
    memory = RoundMemory()
    assert memory.once(3, "commit")
    assert not memory.once(3, "commit")
    assert memory.once(3, "reveal") and memory.once(4, "commit")


def test_a_step_cut_short_is_taken_again_and_only_that_one() -> None:
    memory = RoundMemory()
    assert memory.once(3, "commit") and memory.once(3, "upload")
    memory.retake_current()  # the launcher went away during the upload
    assert memory.once(3, "upload")
    assert not memory.once(3, "commit")


def test_a_finished_step_is_not_taken_again_after_a_failure() -> None:
    memory = RoundMemory()
    assert memory.once(3, "commit")
    memory.current = None  # the step finished
    memory.retake_current()
    assert not memory.once(3, "commit")


def test_old_rounds_are_forgotten_with_their_secrets() -> None:
    memory = RoundMemory()
    for rid in (1, 2, 2 + REMEMBERED_ROUNDS):
        memory.secrets[rid] = bytes(32)
        assert memory.once(rid, "commit")
    assert {rid for rid, _ in memory.done} == {2, 2 + REMEMBERED_ROUNDS}
    assert set(memory.secrets) == {2, 2 + REMEMBERED_ROUNDS}


def test_the_step_under_way_is_named_for_its_round_only() -> None:
    memory = RoundMemory()
    collecting = RoundAnnouncement(round_id=3, model_version=0, phase=Phase.COLLECTING)
    published = RoundAnnouncement(round_id=4, model_version=0, phase=Phase.PUBLISHED)
    assert memory.step(collecting) == "calls on the collecting announcement"
    assert memory.once(3, "upload")
    assert memory.step(collecting) == "upload"
    assert memory.step(published) == "calls on the published announcement"  # round 3's
