"""User level at home: the floor's user-level minimums (``floor-user-dp``), the node's own
account of its users' ε, and the per-user update (fresh draw, clipped users, weight 1)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mpcrec.federation.round_params import RoundParams
from mpcrec.node.config import PrivacyFloor
from mpcrec.node.floor import check_params
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.trainer import DriftTrainer
from mpcrec.node.user_dp import USER_WEIGHT, UserBudget, home_update, user_level_update
from mpcrec.privacy.accountant import gaussian_noise_multiplier
from mpcrec.privacy.budget import epsilon_spent

USER = RoundParams(
    aggregation="secure",
    clip_norm=10.0,
    range_bound=160.0,
    noise_multiplier=1.0,
    min_contributors=3,
    committee_size=3,
    sensitivity="user",
    user_clip_norm=0.1,
    user_rate=0.2,
)
INSTANCE = replace(USER, sensitivity="replace-one")


def _refused(floor: PrivacyFloor, params: RoundParams) -> str:
    with pytest.raises(RoundRefused) as refused:
        check_params(floor, params)
    return refused.value.rule


@pytest.mark.parametrize(
    ("floor", "params"),
    [
        (PrivacyFloor(min_user_noise_multiplier=1.5), USER),
        (PrivacyFloor(require_user_level=True), INSTANCE),
        (PrivacyFloor(max_user_epsilon=0.5), USER),
    ],
)
def test_a_round_below_the_user_level_floor_is_refused(
    floor: PrivacyFloor, params: RoundParams
) -> None:
    assert _refused(floor, params) == "floor-user-dp"


def test_a_user_level_round_meeting_the_floor_passes_and_instance_noise_is_its_own() -> None:
    check_params(PrivacyFloor(require_user_level=True, min_user_noise_multiplier=1.0), USER)
    # z = 1 at C_u = 0.1 is an instance-level multiplier of 1 * 0.1 / (2 * 10) = 0.005
    assert _refused(PrivacyFloor(min_noise_multiplier=0.01), USER) == "floor-noise"


def test_the_node_counts_its_users_epsilon_and_refuses_beyond_its_cap(tmp_path: Path) -> None:
    cap = epsilon_spent([USER.mechanism] * 3, delta=1e-5) + 1e-9
    floor = PrivacyFloor(max_user_epsilon=cap)
    budget = UserBudget(tmp_path)
    for rid in (1, 2, 3):
        budget.check(floor, rid, USER)
        budget.record(rid, USER)
    budget.check(floor, 3, USER)  # the same round again costs nothing more

    with pytest.raises(RoundRefused) as refused:
        UserBudget(tmp_path).check(floor, 4, USER)  # persisted across a restart
    assert refused.value.rule == "floor-user-dp" and "after 4 user-level rounds" in str(
        refused.value
    )


def test_the_node_floor_counts_unsampled_rounds_on_the_exact_curve() -> None:
    """DP-ALS's round (q = 1) at the launcher's exact calibration for ε = 8 passes a node
    capped at 8; 0.1 % less noise does not (the node counts with the launcher's function)."""
    z = gaussian_noise_multiplier(target_epsilon=8.0, steps=1, delta=1e-5)
    floor = PrivacyFloor(require_user_level=True, max_user_epsilon=8.0)
    exact = replace(USER, user_rate=1.0, noise_multiplier=z)

    check_params(floor, exact)
    assert _refused(floor, replace(exact, noise_multiplier=z * 0.999)) == "floor-user-dp"


def test_a_user_level_update_clips_the_user_and_signs_the_public_weight() -> None:
    model = np.zeros((4, 3))
    drift = DriftTrainer("tube-a", rate=0.5)
    always = replace(USER, user_rate=1.0)

    delta, weight = user_level_update(drift, model, 0, always)

    assert weight == USER_WEIGHT and np.linalg.norm(delta) == pytest.approx(0.1)
    assert home_update(drift, model, 0, INSTANCE)[1] == drift.weight


def test_each_round_draws_the_users_afresh() -> None:
    """Same model, same version, same parameters: the draws differ (OS entropy, not
    anything the launcher sends), about q of the rounds draw the one user."""
    drift = DriftTrainer("tube-a", rate=0.5)
    drawn = [
        bool(np.any(user_level_update(drift, np.zeros((4, 3)), 0, USER)[0])) for _ in range(200)
    ]
    assert 15 <= sum(drawn) <= 70


def test_a_trainer_that_cannot_clip_per_user_is_refused() -> None:
    class Opaque:
        def update(self, model: np.ndarray, version: int) -> tuple[np.ndarray, float]:
            return model, 1.0

    with pytest.raises(RoundRefused) as refused:
        user_level_update(Opaque(), np.zeros((2, 2)), 0, USER)
    assert refused.value.rule == "floor-user-dp"


def test_a_movielens_instance_sums_its_drawn_users_clipped_updates(tmp_path: Path) -> None:
    """Each drawn user's update is clipped to C_u (the sum is at most their number times
    C_u), only drawn users' embeddings move, and the draw follows the generator it is given."""
    from mpcrec.node.movielens_trainer import MovieLensTrainer, movielens_setting

    _, factors, _ = movielens_setting(20, 0)
    trainer = MovieLensTrainer(0, 20, 0, 25, state_dir=tmp_path)
    before = trainer.user_emb.copy()
    model = factors.item_emb

    delta = trainer.update_user_level(
        model, 0, user_rate=0.2, user_clip_norm=0.1, rng=np.random.default_rng(1)
    )

    moved = np.flatnonzero(np.any(trainer.user_emb != before, axis=1))
    assert delta.shape == model.shape and 0 < moved.size < trainer.data.n_users
    assert 0 < np.linalg.norm(delta) <= 0.1 * moved.size + 1e-9
    again = MovieLensTrainer(0, 20, 0, 25, state_dir=tmp_path / "b").update_user_level(
        model, 0, user_rate=0.2, user_clip_norm=0.1, rng=np.random.default_rng(1)
    )
    np.testing.assert_array_equal(again, delta)
