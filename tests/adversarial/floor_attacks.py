"""A hostile launcher's lies about a round's privacy floor and its beacon, and a replayed
announcement, one per round, against real node processes (docs/threat-model.md, "Round
parameters, weights and the node's privacy floor"; "The draw").

A node compares every announced round's parameters with the ones it registered under
(``params-mismatch``), so a lie about the floor reaches the floor's own rules only if it is
told consistently: in ``RegisterReply`` and in every announcement of the round, parameters
and digest alike (as :class:`~tests.adversarial.attacks.LowerUserNoise` does). The launcher's
own config, and so its log, stays honest throughout. Round 1 is honest and must publish
(the control). When a round ends (the control round first) the attack moves to the next
stage of :data:`STAGES`, which the next round opens under, and ends every node's watch
(``watch_epoch``): each node watches again and registers again first, and so learns that
stage's parameters before the round collects:

``floor-range-check``
    the wrap guard off (``range_bound`` 0);
``floor-range-lowered``
    the wrap guard at 2 C (below the floor's 13 C; the same rule, ``floor-range-check``);
``floor-min-contributors``
    a minimum of one contributor (below the floor's 3);
``floor-noise``
    noise multiplier :data:`LOWERED_NOISE` (the launcher's config: :data:`HONEST_NOISE`;
    the test's nodes ask for at least :data:`FLOOR_NOISE`);
``beacon``
    honest parameters, but the round announced bound to beacon round 1 (due long ago: its
    value is known before anyone commits); and the new watch of each node is first sent the
    control round's old ``open`` and ``collecting`` announcements again (:meth:`replayed`):
    the node must not take a step of round 1 twice (no second upload reaches the launcher).

then every later round is honest. Every upload that reaches the launcher is recorded before
its own checks (``learned["uploads"]``: round, contributor), so an upload sent under a
lowered floor counts even though the launcher's honest digest check would turn it away.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from launch.round import Phase, Round
from mpcrec.federation.announcement import RoundAnnouncement
from tests.adversarial.hooks import Attack, current_caller

STAGES = (
    "floor-range-check",
    "floor-range-lowered",
    "floor-min-contributors",
    "floor-noise",
    "beacon",
)
HONEST_NOISE = 1.0  # the launcher's model.noise_multiplier in the test
FLOOR_NOISE = 0.5  # the nodes' privacy_floor.min_noise_multiplier in the test
LOWERED_NOISE = 0.1
LOWERED_RANGE_RATIO = 2.0  # range_bound = 2 * clip_norm in ``floor-range-lowered``
#: The phases of the control round replayed to every new watch in the ``beacon`` stage.
REPLAYED_PHASES = ("open", "collecting")


def lowered(stage: str, spec: Any) -> dict[str, Any]:
    """The fields a stage's lie changes: names of both ``FederationSpec`` (protobuf) and
    :class:`~mpcrec.federation.round_params.RoundParams`, each with its lied value."""
    if stage == "floor-range-check":
        return {"range_bound": 0.0}
    if stage == "floor-range-lowered":
        return {"range_bound": LOWERED_RANGE_RATIO * float(spec.clip_norm)}
    if stage == "floor-min-contributors":
        return {"min_contributors": 1}
    if stage == "floor-noise":
        return {"noise_multiplier": LOWERED_NOISE}
    return {}


class FloorLies(Attack):
    """The lies of the module docstring, one per round after the control round."""

    name = "floor-lies"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stage_of: dict[int, str] = {}  # attacked round -> its stage
        self.current = ""  # the stage registrations are answered under ("": honest)
        self.epoch = 0
        self.ended: set[int] = set()  # rounds ended since the control round (and it)
        self.renders: dict[int, dict[str, bytes]] = {}  # up to the control round's end

    def save(self, launcher: Any, rnd: Round) -> Round:
        started = self.first_published is not None or rnd.phase is Phase.PUBLISHED
        if started and rnd.phase.terminal and rnd.round_id not in self.ended:
            self.ended.add(rnd.round_id)  # the next round's stage, told from now on
            done = len(self.stage_of)
            self.current = STAGES[done] if done < len(STAGES) else ""
            self.epoch += 1  # every node registers again, under the stage's parameters
        if rnd.phase is Phase.OPEN and self.ended and rnd.round_id not in self.stage_of:
            self.stage_of[rnd.round_id] = self.current
            self.learned.add("stages", [rnd.round_id, self.current])
        return rnd

    def watch_epoch(self) -> int:
        return self.epoch

    def register_reply(self, reply: Any) -> None:
        changes = lowered(self.current, reply.spec)
        for field, value in changes.items():
            setattr(reply.spec, field, value)
        self.learned.add("registrations", {"stage": self.current, "caller": current_caller()})

    def announce(self, launcher: Any, ann: RoundAnnouncement) -> RoundAnnouncement:
        stage = self.stage_of.get(ann.round_id, "")
        if stage == "beacon" and ann.beacon_round > 1:
            return dataclasses.replace(ann, beacon_round=1, beacon_at=ann.beacon_at - 3600.0)
        changes = lowered(stage, launcher.spec)
        if not changes or ann.params is None:
            return ann
        params = dataclasses.replace(ann.params, **changes)
        return dataclasses.replace(ann, params=params, params_hash=params.digest)

    def rendered(self, rnd: Round, message: bytes) -> None:
        if self.first_published is None and rnd.phase.value in REPLAYED_PHASES:
            self.renders.setdefault(rnd.round_id, {}).setdefault(rnd.phase.value, message)

    def replayed(self, caller: str) -> list[bytes]:
        if self.current != "beacon" or self.first_published is None:
            return []
        control = self.renders.get(self.first_published, {})
        old = [control[p] for p in REPLAYED_PHASES if p in control]
        item = {"caller": caller, "round": self.first_published, "phases": len(old)}
        self.learned.add("replayed", item)
        return old

    def upload_attempt(self, launcher: Any, upload: Any) -> None:
        self.learned.add("uploads", [upload.round_id, upload.contributor])


def floor_attacks() -> dict[str, type[Attack]]:
    """The attacks of this module by name (registered in :data:`attacks.ATTACKS`)."""
    return {FloorLies.name: FloorLies}
