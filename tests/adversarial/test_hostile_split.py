"""A hostile launcher lies about a ``dpals`` federation's budget split
(tests/adversarial/split_attacks.py), one lie a stage, in one user-level federation of real
node processes at ``user_rate`` 1, its config declaring ε 8 at δ 1e-5:

* it moves budget from the statistics to the count release, then the reverse (the same
  total ε, split otherwise), then gives the statistics less noise than the declared split:
  every node refuses each count round ``floor-user-dp`` ("moved budget", the node's
  re-derivation of the pair, :mod:`mpcrec.node.count_split`) before it uploads anything;
* it signs both multipliers 1 % below the declared split (the exact split of a larger ε,
  so the split itself holds): every node, its own ``max_user_epsilon`` the declared 8,
  refuses the count round already, the two releases' ε above its cap;
* it runs the count release at instance level, the counts' multiplier 1e-3: every node
  refuses it (a count release is a user-level plan), though none requires user level;
* then the declared pair: the count release publishes (the control: the nodes take part
  in an honest round, and only in it).

Each lie is signed in a config entry of its own: ``mpcrec audit verify`` names each such
entry ``user_budget``, for the round it is in force from, although no round under it was
revealed; the honest one is not named.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mpcrec.federation.dpals_noise import COUNT_ROUNDS, dpals_multipliers
from mpcrec.model.tuned_dpals import ALS_DP
from mpcrec.node.user_dp import USER_BUDGET_FILE
from tests.adversarial.harness import HostileFederation, findings_in
from tests.adversarial.split_attacks import (
    HONEST,
    INSTANCE_LEVEL,
    LESS_STATISTICS,
    MOVE_TO_COUNTS,
    MOVE_TO_STATISTICS,
    ONE_PERCENT_LESS,
    STAGES,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

EPSILON, DELTA = 8.0, 1e-5
Z, Z_COUNT = dpals_multipliers(EPSILON, DELTA)
MODEL = {
    "n_items": 1682,
    "dim": ALS_DP.dim,
    "model": "dpals",
    "aggregation": "secure",
    "clip_norm": 40.0,  # the demo's: an instance's counts are its largest contribution
}
PRIVACY = {
    "unit": "user",
    "epsilon_budget": EPSILON,
    "delta": DELTA,
    "user_rate": 1.0,
    "user_clip_norm": 0.1,
}
#: The nodes cap their users at the declared ε; they do not require user level, so that the
#: instance-level stage is refused by the count release's own rule, not by that blanket one.
FLOOR = {"require_user_level": False, "max_user_epsilon": EPSILON, "user_delta": DELTA}
#: What each lie's refusal says (the node's detail) and the auditor's finding.
REFUSED = {
    MOVE_TO_COUNTS: "the launcher moved budget between the two releases",
    MOVE_TO_STATISTICS: "the launcher moved budget between the two releases",
    LESS_STATISTICS: "the launcher moved budget between the two releases",
    ONE_PERCENT_LESS: f"1 statistics round(s) (z {Z * 0.99:g}) spend epsilon",
    INSTANCE_LEVEL: "needs user level at rate 1",
}
NAMED = {
    MOVE_TO_COUNTS: "budget moved between the two releases",
    MOVE_TO_STATISTICS: "budget moved between the two releases",
    LESS_STATISTICS: "less noise than that split",
    ONE_PERCENT_LESS: "less noise than that split",
    INSTANCE_LEVEL: "a count release needs user level at rate 1",
}


def _node(index: int, instances: int) -> dict[str, Any]:
    trainer = {"kind": "movielens", "index": index, "instances": instances, "seed": 0}
    return {"trainer": {**trainer, "model": "dpals"}, "privacy_floor": FLOOR}


def _stage_rounds(learned: dict[str, Any]) -> dict[int, str]:
    return {x["round"]: x["stage"] for x in learned.get("stages", [])}


def _lied_uploads(learned: dict[str, Any]) -> list[tuple[int, str]]:
    stage = _stage_rounds(learned)
    return [(r, c) for r, c in learned.get("uploads", []) if stage.get(r, HONEST) != HONEST]


@pytest.mark.timeout(240)
def test_a_moved_or_lowered_budget_split_is_refused_by_every_node_and_named_by_the_auditor(
    fed4: HostileFederation,
) -> None:
    # Prepare
    nodes = {name: _node(k, len(fed4.nodes)) for k, name in enumerate(fed4.nodes)}
    fed4.setup(
        model=MODEL,
        privacy=PRIVACY,
        rounds={"commit_s": 2, "reveal_s": 2, "collect_s": 4},  # lies wait out collecting
        schedule={"rounds": COUNT_ROUNDS},
        node_extra=nodes,
    )

    # Execute
    fed4.start_hostile("split-lies", victim="tube-0", from_round=1)
    fed4.start_nodes()
    fed4.wait_until(
        lambda: fed4.control_round() is not None or bool(_lied_uploads(fed4.learned())),
        200,
        "the honest count release to publish after every lie (or an upload under a lie)",
    )
    fed4.kill("launcher")

    # Assert: the launcher told every lie to every node, and nobody sent it anything
    learned = fed4.learned()
    assert learned["errors"] == [], learned["errors"]
    assert learned["read"] == [] and _lied_uploads(learned) == [], learned.get("uploads")
    stage_of = _stage_rounds(learned)
    assert set(stage_of.values()) == set(STAGES), learned["stages"]
    everyone = set(fed4.nodes)
    for stage in STAGES:
        told = {x["caller"] for x in learned["registrations"] if x["stage"] == stage}
        assert told == everyone, (stage, learned["registrations"])
    rounds = {r.round_id: r for r in fed4.rounds()}
    lied = {r for r, stage in stage_of.items() if stage != HONEST}
    assert {rounds[r].phase.value for r in lied} == {"aborted"}, rounds
    assert not [r for r in lied if fed4.store().contributions(r)]

    # every node refused every lie before it uploaded (floor-user-dp), and nothing else
    refusals = fed4.refused({"floor-user-dp"})
    assert {x["round"] for x in refusals} <= lied, refusals
    for stage, detail in REFUSED.items():
        theirs = [x for x in refusals if stage_of[x["round"]] == stage]
        assert {x["node"] for x in theirs} == everyone, (stage, fed4.all_refusals())
        assert all(detail in x["detail"] for x in theirs), (stage, theirs)
    other = [x for lines in fed4.all_refusals().values() for x in lines]
    assert {x["rule"] for x in other} == {"floor-user-dp"}, fed4.all_refusals()

    # the control: the declared pair passes every node, the count release publishes
    control = fed4.control_round()
    assert control is not None and stage_of[control] == HONEST
    assert rounds[control].model_version == 0 and len(rounds[control].contributors) >= 3
    honest = {r for r, stage in stage_of.items() if stage == HONEST}
    for node in fed4.nodes:
        counted = json.loads((fed4.root / "nodes" / node / USER_BUDGET_FILE).read_text())
        assert {int(r) for r in counted} <= honest, (node, counted)

    # the auditor names each lie's config entry, for the round it is in force from
    report = fed4.audit()
    named = findings_in(report, {"user_budget"})
    at = fed4.entry_rounds()
    first = {stage: min(r for r, s in stage_of.items() if s == stage) for stage in STAGES}
    for stage, words in NAMED.items():
        mine = [f for f in named if at[f["entry"]] == first[stage]]
        assert len(mine) == 1 and words in mine[0]["message"], (stage, named)
        assert mine[0]["message"].startswith(f"round {first[stage]}: "), mine
    assert len(named) == len(NAMED), named
    assert not findings_in(report, {"params", "budget"}), report
    assert report["exit_code"] == 1
