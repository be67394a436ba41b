"""A hostile launcher (the real one with an attack hook, its own process) announces a model
grown beyond the signed catalogue; honest nodes (real processes, secure aggregation, each
publishing videos: :mod:`tests.system.growing_node`) refuse (``catalogue-unverified``) and
no model with rows that trace to no signed catalogue row is published."""

from __future__ import annotations

import pytest

from tests.adversarial.attacks import UNSIGNED_ROWS
from tests.adversarial.harness import SECURE_MODEL, HostileFederation

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]
VIDEOS = 4  # each of the 4 instances publishes 4 videos: 16 catalogue rows once merged
#: at most the first version's rows (one instance's videos may be the first merged)
MODEL = {**SECURE_MODEL, "n_items": VIDEOS}


@pytest.mark.timeout(300)
def test_a_row_count_no_signed_catalogue_version_backs_is_refused(
    fed4: HostileFederation,
) -> None:
    # Prepare: nodes that export their videos; the launcher honest up to the first publish
    fed4.setup(model=MODEL, schedule={"rounds": 0})
    for name in fed4.nodes:
        videos = fed4.root / "nodes" / name / "videos.txt"
        videos.parent.mkdir(parents=True, exist_ok=True)
        videos.write_text("".join(f"https://{name}/videos/watch/{k}\n" for k in range(VIDEOS)))
    fed4.start_hostile("grow-unsigned", victim="tube-0")
    for name in fed4.nodes:
        fed4.start_module(
            name, "tests.system.growing_node", "--config", str(fed4.root / f"{name}.yaml")
        )
    # Execute: a control round publishes, then every round announces unsigned rows
    control = fed4.wait_control_round(timeout=150)
    fed4.wait_until(lambda: fed4.attacked_rounds_ended() >= 1, 120, "an attacked round to end")
    # Assert: the attack was tried, every node refused it as catalogue-unverified
    learned = fed4.learned()
    assert learned.get("errors") == [], learned
    announced = learned.get("announced_rows")
    assert announced, f"the grown row count was never announced: {learned}"
    refused = fed4.refused({"catalogue-unverified"}, rounds={a["round"] for a in announced})
    assert {r["node"] for r in refused} == set(fed4.nodes), fed4.all_refusals()
    # nothing published after the control round; the control model has the signed rows
    store = fed4.store()
    try:
        done = [r for r in fed4.rounds() if r.phase.value == "published"]
        assert [r.round_id for r in done] == [control]
        latest = store.latest_model()
        # (a grown secure round: from the spec's rows to its round's catalogue version's)
        assert latest is not None and VIDEOS <= latest.n_items <= 4 * VIDEOS
        assert all(a["rows"] >= latest.n_items + UNSIGNED_ROWS for a in announced)
    finally:
        store.close()
    report = fed4.audit()
    assert not [f for f in report["findings"] if f["rule"] == "catalogue"], report
