"""A hostile launcher lies about the ledger (tests/adversarial/ledger_attacks.py), one lie a
stage in one user-level federation of real node processes:

* it serves the published model with the committee's shared result altered: every node
  refuses it ``model-unsigned`` and sends nothing; the honest model is taken again after;
* it draws the next committee from a seed without the beacon value the round is bound to
  (what grinding the seed needs): nodes cannot see it, the auditor names ``seed``;
* it declares a user-level budget, names the exact accountant ``gdp`` in its signed config
  although users are sampled at ``q < 1``, and opens rounds past its budget: every node
  stops at its OWN count of its users' ε (``floor-user-dp``, ``max_user_epsilon``), and
  ``mpcrec audit verify`` on the launcher's log names the accountant and the first round
  over the declared budget (``user_budget``);
* it then serves a history with two old entries swapped: every node refuses ``fork``,
  keeps both heads (``fork_evidence.jsonl``), and the auditor given them names the fork.

The launcher's budget affords :data:`LAUNCHER_AFFORDS` rounds, each node's own cap
:data:`NODE_AFFORDS` (both computed here with the accountant the nodes use), so the rounds
between the two are revealed over the launcher's promise and within the nodes' caps.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mpcrec.audit.tree_heads import EVIDENCE_FILE
from mpcrec.node.user_dp import USER_BUDGET_FILE
from mpcrec.privacy.budget import rounds_within_budget
from tests.adversarial.harness import HostileFederation, findings_in
from tests.adversarial.ledger_attacks import ALTER, REORDER, SEED

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

Z, Q, DELTA = 2.0, 0.5, 1e-5
LAUNCHER_BUDGET, NODE_CAP = 1.8, 2.2  # afford 1 and 2 rounds of (Z, Q): the nodes stop at 2
LAUNCHER_AFFORDS = rounds_within_budget([], (Z, Q), delta=DELTA, budget=LAUNCHER_BUDGET)
NODE_AFFORDS = rounds_within_budget([], (Z, Q), delta=DELTA, budget=NODE_CAP)
PRIVACY = {
    "unit": "user",
    "epsilon_budget": LAUNCHER_BUDGET,
    "delta": DELTA,
    "user_rate": Q,
    "user_clip_norm": 1.0,
    "noise_multiplier": Z,
}
FLOOR = {"privacy_floor": {"max_user_epsilon": NODE_CAP, "user_delta": DELTA}}


def _nodes_of(refusals: list[dict[str, Any]]) -> set[str]:
    return {x["node"] for x in refusals}


@pytest.mark.timeout(300)
def test_ledger_lies_are_refused_by_every_node_and_named_by_the_auditor(
    fed4: HostileFederation,
) -> None:
    assert 0 < LAUNCHER_AFFORDS < NODE_AFFORDS  # rounds over its promise, under the caps
    fed4.setup(
        privacy=PRIVACY,
        rounds={"commit_s": 2, "reveal_s": 2},
        node_extra={name: FLOOR for name in fed4.nodes},
    )
    fed4.start_hostile("ledger-lies", victim="tube-0")
    fed4.start_nodes()
    fed4.wait_control_round()
    everyone = set(fed4.nodes)
    fed4.wait_until(
        lambda: _nodes_of(fed4.refused({"fork"})) == everyone, 220, "every node to refuse fork"
    )
    fed4.kill("launcher")

    learned = fed4.learned()
    assert learned["errors"] == [], learned["errors"]
    assert learned["read"] == []
    stages = {stage: r for r, stage in learned["stages"] if stage}
    phases = {r.round_id: r.phase.value for r in fed4.rounds()}
    uploads = [tuple(u) for u in learned.get("uploads", [])]

    # the altered shared result (until every node was served it: one late for a round's
    # commit window fetches nothing in it): every node refused it, nobody uploaded meanwhile
    altered = set(range(stages[ALTER], stages[SEED]))
    assert altered, learned["stages"]
    assert {x["caller"] for x in learned["altered"]} >= everyone, learned["altered"]
    refusals = fed4.refused({"model-unsigned"}, rounds=altered)
    assert _nodes_of(refusals) == everyone, fed4.all_refusals()
    assert all("signed by 0 of the 3 members needed" in x["detail"] for x in refusals), refusals
    assert {phases[r] for r in altered} == {"aborted"}, phases
    assert not [u for u in uploads if u[0] in altered], uploads
    assert any(p == "published" for r, p in phases.items() if r > max(altered)), phases

    # the budget: the launcher overran it, every node stopped at its own count
    over = learned["over_budget"]
    assert [r for r in over if phases.get(r) == "published"], (over, phases)
    stopped = fed4.refused({"floor-user-dp"})
    assert _nodes_of(stopped) == everyone, fed4.all_refusals()
    for node in fed4.nodes:
        mine = [x for x in stopped if x["node"] == node]
        assert all(f"above max_user_epsilon {NODE_CAP:g}" in x["detail"] for x in mine), mine
        assert f"after {NODE_AFFORDS + 1} user-level rounds" in mine[0]["detail"], mine
        counted = json.loads((fed4.root / "nodes" / node / USER_BUDGET_FILE).read_text())
        assert len(counted) == NODE_AFFORDS, (node, counted)
        first = min(x["round"] for x in mine)
        assert not [u for u in uploads if u[1] == node and u[0] >= first], (node, uploads)

    # the re-ordered history: every node refused it and kept both heads
    shown = {(x["size"], x["root"]) for x in learned["shadow_heads"]}
    assert learned["reordered"], learned
    assert stages[REORDER] > max(x["round"] for x in stopped), (learned["stages"], stopped)
    for node in fed4.nodes:
        lines = (fed4.root / "nodes" / node / EVIDENCE_FILE).read_text().splitlines()
        kept = [json.loads(line) for line in lines]
        theirs = {(k["theirs"]["head"]["size"], k["theirs"]["head"]["root"]) for k in kept}
        assert theirs and theirs <= shown, (node, kept, shown)

    # the auditor, on the launcher's own log and the nodes' heads and evidence
    report = fed4.audit(evidence=True)
    assert report["exit_code"] == 1, report
    budget = findings_in(report, {"user_budget"})
    named = [f for f in budget if "exact Gaussian accountant (gdp)" in f["message"]]
    assert named and f"sample rate {Q:g}" in named[0]["message"], budget
    revealed = [r for r in sorted(phases) if any(x.ok for x in fed4.store().results(r).values())]
    first_over = revealed[LAUNCHER_AFFORDS]
    overrun = [f for f in budget if f"exceeds the budget {LAUNCHER_BUDGET:g}" in f["message"]]
    assert overrun and f"round {first_over}:" in overrun[0]["message"], budget
    assert fed4.entry_rounds()[overrun[0]["entry"]] == first_over and first_over in over
    reseeded = learned["reseeded"]
    assert [x["round"] for x in reseeded] == [stages[SEED]], reseeded
    seeds = findings_in(report, {"seed"})
    assert [fed4.entry_rounds()[f["entry"]] for f in seeds] == [stages[SEED]], seeds
    assert "is not the combination of the reveals and beacon round" in seeds[0]["message"]
    forks = findings_in(report, {"fork"})
    assert any(f"{EVIDENCE_FILE} theirs line" in f["message"] for f in forks), report
