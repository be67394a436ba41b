"""What a node remembers of recent rounds: the steps it took (each step of a round is
taken once) and its seed secrets, for the last :data:`REMEMBERED_ROUNDS` rounds only."""

from __future__ import annotations

from mpcrec.federation.announcement import RoundAnnouncement

#: Rounds whose steps a node remembers after one ends (older ones are never announced again).
REMEMBERED_ROUNDS = 16


class RoundMemory:
    """The steps taken and the seed secrets of the rounds a node still follows.

    Attributes
    ----------
    secrets:
        ``round_id -> 32-byte secret`` this node committed to and has not yet forgotten.
    done:
        ``(round_id, step)`` pairs already taken.
    current:
        The step under way (taken again if the launcher goes away in the middle of it).
    """

    def __init__(self) -> None:
        self.secrets: dict[int, bytes] = {}
        self.done: set[tuple[int, str]] = set()
        self.current: tuple[int, str] | None = None

    def once(self, round_id: int, step: str) -> bool:
        """True the first time ``(round_id, step)`` is asked for (it is then under way)."""
        if (round_id, step) in self.done:
            return False
        self.forget_before(round_id - REMEMBERED_ROUNDS)  # a round's end may go unseen
        self.done.add((round_id, step))
        self.current = (round_id, step)
        return True

    def step(self, ann: RoundAnnouncement) -> str:
        """The name of ``ann``'s step under way (``upload``, ...), or ``calls on the <phase>
        announcement`` (its log check, its model's download, ...)."""
        current = self.current
        if current and current[0] == ann.round_id:
            return current[1]
        return f"calls on the {ann.phase.value} announcement"

    def retake_current(self) -> None:
        """The step under way did not finish: the next :meth:`once` for it is True again."""
        self.done.discard(self.current or (0, ""))

    def forget_before(self, round_id: int) -> None:
        """Drop the steps and secrets of rounds before ``round_id`` (kept forever otherwise)."""
        self.done = {done for done in self.done if done[0] >= round_id}
        self.secrets = {rid: s for rid, s in self.secrets.items() if rid >= round_id}
