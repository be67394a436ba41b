"""The personal model of an instance: closed form, limits, choice on validation."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from mpcrec.data.split import Split
from mpcrec.model.dpals import ALSConfig, solve_users
from mpcrec.model.dpals_train import Home
from mpcrec.model.metrics import rank_held_out
from mpcrec.model.personal import (
    MIXES,
    STRENGTHS,
    candidate_scores,
    choose,
    local_model,
    personal_items,
    standardised,
    user_gains,
)
from mpcrec.model.personal_rule import CAPS, SHRINKS, shrunk_name, shrunk_weight

CONFIG = ALSConfig(dim=3, user_reg=0.5, user_unobserved=0.3)


def _instance() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    shared = rng.normal(size=(6, 3))
    conf = rng.random((5, 6)) * (rng.random((5, 6)) < 0.6) * 4
    return shared, conf


def test_infinite_strength_is_the_shared_model() -> None:
    shared, conf = _instance()
    items, users = personal_items(shared, conf, CONFIG, math.inf)
    np.testing.assert_array_equal(items, shared)
    np.testing.assert_allclose(users, solve_users(shared, conf, CONFIG))


def test_item_step_zeroes_the_gradient_of_the_pulled_loss() -> None:
    shared, conf = _instance()
    strength = 2.0
    items, _ = personal_items(shared, conf, CONFIG, strength, sweeps=1)
    users = solve_users(shared, conf, CONFIG)  # the users the single item step saw
    for i in range(6):
        pred = users @ items[i]
        grad = -2 * users.T @ (conf[:, i] * (1 - pred)) + 2 * 0.3 * users.T @ pred
        grad += 2 * strength * (items[i] - shared[i])
        np.testing.assert_allclose(grad, 0.0, atol=1e-10)


def test_strong_pull_stays_close_and_weak_pull_moves() -> None:
    shared, conf = _instance()
    near, _ = personal_items(shared, conf, CONFIG, 1e6)
    far, _ = personal_items(shared, conf, CONFIG, 0.01)
    assert np.abs(near - shared).max() < 1e-4
    assert np.abs(far - shared).max() > 0.1


def test_bias_column_stays_shared() -> None:
    shared, conf = _instance()
    items, users = personal_items(shared, conf, replace(CONFIG, item_bias=True), 0.1)
    np.testing.assert_array_equal(items[:, -1], shared[:, -1])
    np.testing.assert_array_equal(users[:, -1], 1.0)


def test_choice_needs_a_gain_beyond_one_standard_error() -> None:
    shared = np.array([0.0, 0.5, 0.0, 1.0])
    noisy = np.array([1.0, 0.0, 0.0, 1.0])  # mean gain 0.125, SE 0.31: not enough
    clear = shared + np.array([0.2, 0.25, 0.3, 0.2])  # mean gain 0.24, SE 0.02
    assert choose({"shared": shared, "mix 1": noisy}) == "shared"
    assert choose({"shared": shared, "mix 1": noisy, "offset 10": clear}) == "offset 10"
    assert choose({"shared": shared[:1], "offset 10": clear[:1]}) == "shared"


def test_local_model_fits_its_own_users_better_than_a_random_shared_one(world: Split) -> None:
    config = ALSConfig(dim=4, iterations=4, reg=0.1, unobserved=0.01)
    members = np.arange(world.n_users)[::2]
    home = Home.create(world, members, config)
    rng = np.random.default_rng(1)
    local = local_model(home.conf, config, rng)
    shared = rng.normal(size=(world.n_items, 4)) * 0.1
    candidates = candidate_scores(shared, home, config, local)
    assert set(candidates) == {
        "shared",
        *(f"offset {s:g}" for s in STRENGTHS[1:]),
        *(f"mix {a:g}" for a in MIXES),
        *(shrunk_name(s, c) for s in SHRINKS for c in CAPS),
    }
    gains = {k: user_gains(world, v, members, "valid") for k, v in candidates.items()}
    assert gains["mix 1"].mean() > gains["shared"].mean() + 0.2
    assert choose(gains) != "shared"
    np.testing.assert_allclose(candidates["mix 1"].std(axis=1), 1.0)


def test_a_shrunk_mixture_is_mixed_at_its_exact_capped_weight(world: Split) -> None:
    """n/(n+25) at n = 262 is 0.913, not the nearest fixed mixture (1: the local model alone)."""
    config = ALSConfig(dim=4, iterations=2, reg=0.1, unobserved=0.01)
    members = np.arange(world.n_users)[::2]
    n = members.shape[0]
    home = Home.create(world, members, config)
    rng = np.random.default_rng(3)
    local = local_model(home.conf, config, rng)
    shared = rng.normal(size=(world.n_items, 4))
    got = candidate_scores(shared, home, config, local)
    base, own = standardised(got["shared"]), standardised(local[1] @ local[0].T)
    for shrink, cap in ((25.0, 1.0), (100.0, 1.0), (25.0, 0.5)):
        weight = min(n / (n + shrink), cap)
        expected = (1.0 - weight) * base + weight * own
        np.testing.assert_allclose(got[shrunk_name(shrink, cap)], expected, atol=1e-12)
    assert not np.allclose(got["mix n/(n+25)"], got["mix 1"])
    assert shrunk_weight(262, 25.0) == pytest.approx(0.9129, abs=1e-4)
    assert shrunk_weight(262, 25.0, 0.5) == 0.5
    assert shrunk_weight(10, 25.0, 0.5) == pytest.approx(10 / 35)


def test_user_gains_rank_like_the_benchmark(world: Split) -> None:
    scores = np.random.default_rng(2).random((world.n_users, world.n_items))
    members = np.arange(world.n_users)[1::3]
    ranks = rank_held_out(lambda u: scores[u], world, stage="valid").ranks[members]
    expected = np.where(ranks < 10, 1.0 / np.log2(ranks + 2.0), 0.0)
    np.testing.assert_allclose(user_gains(world, scores[members], members, "valid"), expected)
