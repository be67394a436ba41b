"""DP-ALS as the runtime releases it (mpcrec.model.dpals_release): one user's bound, the
round trip of the scaling, and the noise every block gets from the committee's one Gaussian."""

from __future__ import annotations

import numpy as np
import pytest

from mpcrec.model.dpals import bound_users, local_statistics
from mpcrec.model.dpals_release import (
    USERS,
    fractions,
    instance_release,
    release_sigmas,
    release_size,
    runtime_config,
    scales,
    unscaled,
    user_sensitivities,
)

N_ITEMS, C_U = 40, 0.3


def _users(rng: np.random.Generator, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` users with factors of norm about ``B`` or more (bounded) and unit-L2 weights
    concentrated on a few items (the worst case for the per-item blocks)."""
    config = runtime_config(dim)
    factors = bound_users(rng.normal(0.0, 3.0, (n, dim)), config.user_norm)
    weights = np.zeros((n, N_ITEMS))
    for row in weights:
        items = rng.choice(N_ITEMS, size=int(rng.integers(1, 4)), replace=False)
        row[items] = rng.random(items.size) + 0.1
        row /= np.linalg.norm(row)
    return factors, weights


@pytest.mark.parametrize("dim", [2, 8])
def test_one_user_moves_a_contribution_by_at_most_c_u(dim: int) -> None:
    # Prepare
    rng = np.random.default_rng(dim)
    config = runtime_config(dim)
    factors, weights = _users(rng, 30, dim)

    # Execute
    with_all = instance_release(factors, weights, config, C_U)
    moved = [
        float(
            np.linalg.norm(
                with_all
                - instance_release(np.delete(factors, u, 0), np.delete(weights, u, 0), config, C_U)
            )
        )
        for u in range(30)
    ]

    # Assert: the add/remove bound holds and is nearly tight for users at norm B on one item
    assert with_all.shape == (release_size(N_ITEMS, dim),)
    assert max(moved) <= C_U * (1 + 1e-12)
    assert max(moved) > 0.5 * C_U
    assert sum(fractions(config).values()) == pytest.approx(1.0)


def test_scaling_round_trips_to_the_statistics_and_the_user_count() -> None:
    rng = np.random.default_rng(1)
    config = runtime_config(8)
    factors, weights = _users(rng, 12, 8)

    flat = unscaled(instance_release(factors, weights, config, C_U), config, N_ITEMS, C_U)

    np.testing.assert_allclose(flat[:-1], local_statistics(factors, weights, config), atol=1e-12)
    assert flat[-1] == pytest.approx(12.0)


def test_the_committees_one_gaussian_gives_each_block_its_share_of_the_budget() -> None:
    config, z = runtime_config(8), 0.7

    sigmas, a = release_sigmas(z, config), scales(config, C_U)
    delta = user_sensitivities(config)

    # noise z C_u on the scaled sum is sigma_b = z C_u / a_b on block b, and the blocks
    # together are one Gaussian mechanism of multiplier z: sum_b (D_b / sigma_b)^2 = 1 / z^2
    for block, sigma in sigmas.items():
        assert sigma == pytest.approx(z * C_U / a[block])
    assert sum((delta[b] / s) ** 2 for b, s in sigmas.items()) == pytest.approx(z**-2)
    assert delta[USERS] == 1.0


def test_the_runtime_keeps_the_tuned_metadata_smoothing() -> None:
    """The runtime's settings are ``ALS_DP_ONE_RELEASE``'s (``ALS_DP`` without its count
    release), smoothing included: the published factors are the solve smoothed by the
    released masses and public features, and without the features the smoothing settings
    cannot publish."""
    from dataclasses import replace

    from mpcrec.model.dpals import smooth_items, solve_items, unpack
    from mpcrec.model.dpals_release import published_items
    from mpcrec.model.tuned_dpals import ALS_DP, ALS_DP_ONE_RELEASE

    config = runtime_config(8)
    n_items = 50
    rng = np.random.default_rng(0)
    total = rng.normal(0.0, 1.0, size=release_size(n_items, 8))
    total[-1] = 40.0 * scales(config, 0.1)["users"]
    features = (rng.random((n_items, 5)) < 0.3).astype(np.float64)

    published = published_items(total, config, n_items, 0.1, features)

    assert config == replace(ALS_DP_ONE_RELEASE, dim=8) and config.smoothing > 0
    assert ALS_DP.head_items > 0 and config.head_items == 0  # the runtime's gap, named
    flat = unscaled(total, config, n_items, 0.1)
    solved = solve_items(flat[:-1], 40, config)
    mass = unpack(flat[:-1], config)["mass"]
    expected = smooth_items(
        solved, mass, features, strength=config.smoothing, lam=config.smoothing_reg
    )
    assert np.abs(published - expected).max() < 1e-12
    assert np.abs(published - solved).max() > 1e-3
    with pytest.raises(ValueError, match="features"):
        published_items(total, config, n_items, 0.1)
