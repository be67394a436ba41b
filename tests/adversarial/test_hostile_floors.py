"""A hostile launcher lowers a node's privacy floor, binds a round to a beacon round already
due, and replays old announcements (tests/adversarial/floor_attacks.py), one lie per round
in one federation: every real node refuses each lied round with the floor's named rule (the
lie told consistently, in RegisterReply and in the round's parameters and digest, so that
no node can refuse it as ``params-mismatch`` first), and refuses the beacon-bound one
``beacon``; the replayed control round brings no second step (no second upload, its old
``open`` refused ``beacon``). No node uploads to a lied round; the launcher reads nothing.
"""

from __future__ import annotations

import pytest

from tests.adversarial.floor_attacks import FLOOR_NOISE, HONEST_NOISE, STAGES
from tests.adversarial.harness import SECURE_MODEL, HostileFederation

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

#: The rule every node must refuse each stage's round with (mpcrec/node/floor.py,
#: mpcrec/node/beacon_check.py), and what its detail says.
RULE = {
    "floor-range-check": ("floor-range-check", "range_bound 0 with clip_norm 10"),
    "floor-range-lowered": ("floor-range-check", "range_bound 20 with clip_norm 10"),
    "floor-min-contributors": ("floor-min-contributors", "min_contributors 1 < this node's 3"),
    "floor-noise": ("floor-noise", "noise_multiplier 0.1 < this node's 0.5"),
    "beacon": ("beacon", "beacon round 1 was due at"),
}
MODEL = {**SECURE_MODEL, "noise_multiplier": HONEST_NOISE}  # so that lowering it is a lie
#: A cold seat (tests/adversarial/harness.py keeps them warm): each stage changes the spec,
#: so a node builds its aggregation again at the stage's registration, and a warm party
#: would be stopped there first (up to its 2 s exit grace): a node could register after
#: the lied round's 2 s commitments closed, never see its ``open`` and refuse nothing.
FLOOR = {
    "privacy_floor": {"min_noise_multiplier": FLOOR_NOISE},
    "committee": {"warm_seat": False},
}


@pytest.mark.timeout(300)
def test_floor_and_beacon_lies_are_refused_and_a_replayed_announcement_is_a_step_taken_once(
    fed4: HostileFederation,
) -> None:
    fed4.setup(
        model=MODEL,
        rounds={"commit_s": 2, "reveal_s": 2},
        node_extra={name: FLOOR for name in fed4.nodes},
    )
    fed4.start_hostile("floor-lies", victim="tube-0")
    fed4.start_nodes()
    control = fed4.wait_control_round()

    def lied() -> bool:
        last = [r for r, stage in fed4.learned().get("stages", []) if stage == STAGES[-1]]
        return any(r.round_id in last and r.phase.terminal for r in fed4.rounds())

    fed4.wait_until(lied, 200, "a round with each lie to end")
    learned = fed4.learned()
    assert learned["errors"] == [], learned
    stages = {stage: r for r, stage in learned["stages"] if stage}
    assert sorted(stages) == sorted(STAGES), learned["stages"]
    phases = {r.round_id: r.phase.value for r in fed4.rounds()}
    for stage, round_id in stages.items():
        rule, detail = RULE[stage]
        refusals = fed4.refused({rule}, rounds={round_id})
        assert {x["node"] for x in refusals} == set(fed4.nodes), (stage, fed4.all_refusals())
        assert all(detail in x["detail"] for x in refusals), (stage, refusals)
        assert phases[round_id] == "aborted", (stage, phases)
    assert fed4.refused({"params-mismatch"}) == [], "a lie was told inconsistently"
    for stage in STAGES:  # each node registered again under the stage's parameters
        told = {x["caller"] for x in learned["registrations"] if x["stage"] == stage}
        assert told == set(fed4.nodes), (stage, learned["registrations"])

    uploads = [tuple(u) for u in learned.get("uploads", [])]
    assert [u for u in uploads if u[0] in stages.values()] == [], "an upload to a lied round"
    assert learned["read"] == []

    # the replay: every node's new watch in the beacon stage began with the control round's
    # old open and collecting announcements; each step of that round was taken once
    replays = learned["replayed"]
    replayed = {x["caller"] for x in replays if (x["round"], x["phases"]) == (control, 2)}
    assert replayed == set(fed4.nodes), replays
    assert sorted(c for r, c in uploads if r == control) == sorted(fed4.nodes), uploads
    assert len(uploads) == len(set(uploads)), f"an upload sent twice: {uploads}"
    again = fed4.refused({"beacon"}, rounds={control})  # the old open: its beacon is out
    assert {x["node"] for x in again} == set(fed4.nodes), fed4.all_refusals()
