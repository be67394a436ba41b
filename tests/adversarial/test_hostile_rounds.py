"""A hostile launcher against the round itself: who takes part, when it aborts, which
history it shows. Real processes as in test_hostile_launcher.py; the rounds up to the first
published one are left honest."""

from __future__ import annotations

import pytest

from tests.adversarial.harness import HostileFederation, findings_in

# one federation at a time (2 cores): the group runs on one xdist worker, in order
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

COLLUDERS = ("tube-1", "tube-2")


def _no_harness_error(learned: dict) -> None:  # type: ignore[type-arg]
    assert learned.get("errors") == [], f"the hostile launcher's hooks failed: {learned}"


@pytest.mark.timeout(180)
def test_abort_after_the_reveal_then_rerun_without_the_victim_reveals_nothing(
    fed4: HostileFederation,
) -> None:
    """The first attacked round computes and its members reveal the model; the launcher
    aborts it and reruns on the same base model without the victim's upload: the difference
    of the two revealed models is the victim's update (finding 5). An instance contributes
    at most once per base model version, so the rerun gets nothing from the honest nodes."""
    fed4.setup()
    fed4.start_hostile("abort-rerun", victim="tube-0")
    fed4.start_nodes()
    fed4.wait_control_round()

    fed4.wait_until(lambda: fed4.attacked_rounds_ended() >= 2, 120, "the rerun to end")

    learned = fed4.learned()
    _no_harness_error(learned)
    assert learned.get("aborted_after_reveal"), "no round was aborted after its reveal"
    assert learned["read"] == [], f"the launcher read the victim's update: {learned['read']}"
    assert fed4.refused({"model-reused"}), fed4.all_refusals()


@pytest.mark.timeout(180)
def test_a_pruned_participant_list_is_named_by_the_auditor(fed5: HostileFederation) -> None:
    """After the control round the launcher lists only its colluders and the victim (3 of 5 live
    instances): with k = 3 they are the whole committee and the only contributors (finding
    6). The auditor must name the round ("participants": all live registered instances)."""
    fed5.setup()
    fed5.start_hostile("prune-participants", victim="tube-0", colluders=COLLUDERS)
    fed5.start_nodes()
    fed5.wait_control_round()

    fed5.wait_until(lambda: fed5.attacked_rounds_ended() >= 1, 90, "a pruned round to end")
    fed5.kill("launcher")

    learned = fed5.learned()
    _no_harness_error(learned)
    pruned = {item["round"] for item in learned.get("pruned", [])}
    assert pruned, "no participant list was pruned"
    report = fed5.audit()
    rounds_of = fed5.entry_rounds()
    named = [
        f for f in findings_in(report, {"participants"}) if rounds_of.get(f["entry"]) in pruned
    ]
    assert named, f"the auditor did not name the pruned rounds {sorted(pruned)}: {report}"
    assert not report["ok"] and report["exit_code"] == 1


@pytest.mark.timeout(200)
def test_aborts_after_the_draw_are_named_by_the_auditor(fed5: HostileFederation) -> None:
    """After the control round the launcher aborts every round, right after its committee was drawn,
    that does not seat both its colluders (finding 6: grinding the sortition). The auditor
    must name those aborts ("post_draw_abort")."""
    fed5.setup()
    fed5.start_hostile("post-draw-abort", victim="tube-0", colluders=COLLUDERS)
    fed5.start_nodes()
    fed5.wait_control_round()

    def ground() -> bool:
        learned = fed5.learned()
        aborts = learned.get("post_draw_aborts", [])
        seated = {i["round"] for i in learned.get("colluders_seated", [])}
        seated_done = any(r.round_id in seated and r.phase.terminal for r in fed5.rounds())
        return len(aborts) >= 3 or (bool(aborts) and seated_done)

    fed5.wait_until(ground, 100, "the launcher to abort drawn rounds")
    fed5.kill("launcher")

    learned = fed5.learned()
    _no_harness_error(learned)
    aborted = {item["round"] for item in learned["post_draw_aborts"]}
    report = fed5.audit()
    rounds_of = fed5.entry_rounds()
    named = [
        f for f in findings_in(report, {"post_draw_abort"}) if rounds_of.get(f["entry"]) in aborted
    ]
    assert named, f"the auditor did not name the aborts after the draw {sorted(aborted)}: {report}"
    assert not report["ok"] and report["exit_code"] == 1


@pytest.mark.timeout(180)
def test_a_forked_head_shown_to_one_node_is_detected(fed4: HostileFederation) -> None:
    """After the control round the victim's tree heads are of a shadow log (one extra
    launcher entry at the fork point, consistent in itself, signed with the launcher's key);
    the others see the real one (finding 8). Honest nodes must detect it themselves, by
    exchanging signed heads ("fork") or by checking inclusion proofs of their own entries
    ("inclusion"), and the auditor given every node's heads must name it."""
    fed4.setup()
    fed4.start_hostile("forked-head", victim="tube-0")
    fed4.start_nodes()
    fed4.wait_control_round()

    def decided() -> bool:
        published = [r for r in fed4.rounds() if r.phase.value == "published"]
        shown = len(fed4.learned().get("shadow_heads", []))
        return bool(fed4.refused({"fork", "inclusion"})) or (shown >= 2 and len(published) >= 4)

    fed4.wait_until(decided, 100, "the victim to be shown forked heads")
    fed4.kill("launcher")

    learned = fed4.learned()
    _no_harness_error(learned)
    assert learned.get("forked"), "the victim never asked for a head after the fork"
    refused = fed4.refused({"fork", "inclusion"})
    assert refused, f"no node detected the split view: {fed4.all_refusals()}"
    report = fed4.audit()
    assert findings_in(report, {"fork", "tree", "heads"}), report
