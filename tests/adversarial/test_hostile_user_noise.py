"""A hostile launcher that lowers the user-level noise it announces below the nodes' floor
(issue 14): its own config (and so its log) runs user level at z = 2; it tells every node
z = 0.01, consistently in RegisterReply and in every round's parameters and digest. Every
honest node's floor asks for a user-level z of at least 1: each refuses `floor-user-dp`,
and no contribution reaches the launcher. From registration on: there is no control round.
"""

from __future__ import annotations

import pytest

from tests.adversarial.attacks import LOWERED_Z
from tests.adversarial.harness import HostileFederation

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

PRIVACY = {
    "unit": "user",
    "epsilon_budget": 8.0,
    "delta": 1e-5,
    "user_rate": 0.5,
    "user_clip_norm": 1.0,
    "noise_multiplier": 2.0,
}
FLOOR = {"privacy_floor": {"require_user_level": True, "min_user_noise_multiplier": 1.0}}


@pytest.mark.timeout(180)
def test_user_level_noise_lowered_below_the_floor_is_refused(fed4: HostileFederation) -> None:
    fed4.setup(privacy=PRIVACY, node_extra={name: FLOOR for name in fed4.nodes})
    fed4.start_hostile("lower-user-noise", victim="tube-0", from_round=1)
    fed4.start_nodes()

    def decided() -> bool:
        uploaded = any(r.contributors for r in fed4.rounds())
        return bool(uploaded or len({r["node"] for r in fed4.refused({"floor-user-dp"})}) == 4)

    fed4.wait_until(decided, 100, "every node to refuse the lowered round (or contribute)")

    learned = fed4.learned()
    assert learned.get("errors") == [], f"the hostile launcher's hooks failed: {learned}"
    assert learned.get("lowered"), "no registration was answered with the lowered noise"
    refusals = fed4.refused({"floor-user-dp"})
    assert {r["node"] for r in refusals} == set(fed4.nodes)
    assert all(f"noise multiplier {LOWERED_Z:g}" in r["detail"] for r in refusals), refusals
    assert not any(r.contributors for r in fed4.rounds()), "a node contributed anyway"
