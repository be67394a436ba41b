"""The personal model of an instance: closed form, limits, choice on validation."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from mpcrec.data.split import Split
from mpcrec.model.dpals import ALSConfig, solve_users
from mpcrec.model.dpals_train import Home
from mpcrec.model.personal import choose_strength, personal_items

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


def test_each_instance_chooses_from_the_grid(world: Split) -> None:
    config = ALSConfig(dim=4)
    members = [np.arange(world.n_users)[k::2] for k in range(2)]
    homes = [Home.create(world, m, config) for m in members]
    shared = np.random.default_rng(1).normal(size=(world.n_items, 4)) * 0.1
    chosen = choose_strength(world, homes, shared, config, grid=(math.inf, 1.0))
    assert len(chosen) == 2 and set(chosen) <= {math.inf, 1.0}
    # a random shared model is useless: fitting the instance's own data must win
    assert chosen == [1.0, 1.0]
