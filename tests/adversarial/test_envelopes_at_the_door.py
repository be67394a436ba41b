"""One malicious contributor cannot stall the federation with envelopes the members must
refuse (found by the envelope attacks of tests/adversarial/hostile_envelopes.py).

A member that opens a misaddressed or equivocating envelope refuses it, and the round
aborts while computing; nodes do not contribute again on a model an aborted round computed
on (``model-reused``, with noise 0 here and no opt-out), so
on the code before, one such upload stopped every later round at that model. The honest
launcher now turns such an upload away at the door (``launch.admission.check_bound``: each
envelope sealed to its member's committee index and naming the round's base model), the
round goes on with the honest contributions and publishes.

The contributor is the real node daemon sealing those envelopes (``--envelopes``, its
record pre-set to the two kinds only the members could catch); the launcher is the real,
honest one (attack ``none``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.adversarial.harness import HostileFederation
from tests.adversarial.test_hostile_envelopes import EVIL, HONEST, VICTIM, record, start_contributor

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

#: Warm seats only: no ``allow_model_reuse`` (an aborted round would stall the federation).
NODE = {"committee": {"warm_seat": True}}
ROUNDS = {"commit_s": 2, "reveal_s": 2, "compute_s": 30}
AT_THE_DOOR = ["misaddressed", "equivocating"]  # the header checks only members had
#: The launcher's refusals (``check_bound``), as the contributor's log quotes them.
DOOR = ("(the round's committee order)", "names another base model than the round's")


@pytest.mark.timeout(240)
def test_an_upload_members_would_refuse_is_turned_away_and_the_federation_goes_on(
    tmp_path: Path,
) -> None:
    with HostileFederation(tmp_path, [*HONEST, EVIL]) as fed:
        fed.setup(rounds=ROUNDS, node_extra=dict.fromkeys(fed.nodes, NODE))
        record_file = fed.root / "evil.json"
        record_file.write_text(json.dumps({"given": [], "computing": [], "pending": AT_THE_DOOR}))
        fed.start_hostile("none", victim=VICTIM)
        fed.start_nodes(HONEST)
        start_contributor(fed)
        control = fed.wait_control_round()

        def attacked() -> list[int]:
            return sorted({item["round"] for item in record(fed).get("given", [])})

        def published_after(round_id: int) -> list[int]:
            done = [r for r in fed.rounds() if r.phase.value == "published"]
            return [r.round_id for r in done if r.round_id > round_id]

        fed.wait_until(
            lambda: bool(attacked()) and len(published_after(attacked()[0] - 1)) >= 2,
            150,
            "the attacked round and the next one to publish",
        )

    rounds = {r.round_id: r for r in fed.rounds()}
    first = attacked()[0]
    assert first > control
    kinds = {g["kind"] for g in record(fed)["given"][0]["kinds"].values()}
    assert kinds & set(AT_THE_DOOR), record(fed)
    turned_away = [x for x in fed.log_text(EVIL).splitlines() if any(d in x for d in DOOR)]
    assert turned_away, fed.log_text(EVIL)[-3000:]  # it did upload, and was turned away
    assert rounds[first].phase.value == "published", rounds[first]
    assert EVIL not in rounds[first].contributors
    assert set(HONEST) <= set(rounds[first].contributors)
    assert not fed.refused({"model-reused"}), fed.all_refusals()
