"""DP-ALS's head restriction and post-processing (issue 14, dpals8): the trained catalogue
cut to the top of a noisy count release, the released tail cut, the Gram's eigenvalue
floor. Each keeps the privacy proof: the count release moves by at most 1 with one user,
the head-masked statistics by at most each block's bound, the rest is post-processing."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mpcrec.bench.quality_dp import calibrate
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.errors import ConfigError
from mpcrec.model.dpals import (
    ALSConfig,
    block_sizes,
    bound_users,
    cut_tail,
    dense,
    floor_gram,
    local_statistics,
    sensitivities,
    solve_items,
    statistic_weights,
    top_items,
)
from mpcrec.model.dpals_release import published_items, runtime_config
from mpcrec.model.dpals_train import Home, Privacy, noisy_counts, train_dpals
from mpcrec.privacy.accountant import gaussian_epsilon

TINY = ALSConfig(dim=3, reg=0.7, unobserved=0.2, user_reg=0.5, user_unobserved=0.3)


def test_top_items_breaks_ties_by_the_lower_index() -> None:
    mask = top_items(np.array([1.0, 3.0, 2.0, 3.0, -1.0]), 3)
    np.testing.assert_array_equal(mask, [False, True, True, True, False])
    assert not top_items(np.zeros(4), 0).any()


def test_head_weights_keep_only_the_top_counts_and_every_block_within_its_bound() -> None:
    """A user on every item, extreme confidences and a huge factor, removed or replaced:
    with the head mask every block still moves by at most its sensitivity."""
    config = replace(TINY, item_gram="global", head_items=3, count_share=0.05)
    rng = np.random.default_rng(5)
    n_items, others = 6, 7
    counts = np.array([4.0, -1.0, 9.0, 0.5, 7.0, 2.0])  # noisy, public: head = 0, 2, 4
    users = np.repeat(np.arange(others + 1), n_items)
    items = np.tile(np.arange(n_items), others + 1)
    ages = rng.integers(0, 9, size=users.shape[0])
    dense_w = np.zeros((others + 1, n_items))
    dense_w[users, items] = statistic_weights(users, items, ages, others + 1, config, counts)
    np.testing.assert_array_equal(dense_w[:, [1, 3, 5]], 0.0)
    np.testing.assert_allclose(np.linalg.norm(dense_w, axis=1), 1.0)  # all on the head
    factors = bound_users(rng.normal(size=(others + 1, 3)) * 1e6, config.user_norm)
    stats = local_statistics(factors, dense_w, config)
    without = local_statistics(factors[:-1], dense_w[:-1], config)
    rival_w = np.zeros((1, n_items))
    rival_w[0, 2] = 1.0
    rival = bound_users(-factors[-1:], config.user_norm)
    replaced = local_statistics(
        np.vstack([factors[:-1], rival]), np.vstack([dense_w[:-1], rival_w]), config
    )
    start = 0
    for name, size in block_sizes(config, n_items).items():
        part = slice(start, start + size)
        start += size
        bound = sensitivities(config)[name]
        assert np.linalg.norm(stats[part] - without[part]) <= bound / 2 + 1e-9
        assert np.linalg.norm(stats[part] - replaced[part]) <= bound + 1e-9


def test_count_release_moves_by_at_most_one_with_one_user(world: Split) -> None:
    config = replace(TINY, head_items=10)
    members = np.arange(world.n_users)
    exact = Privacy(0.0, 0.0, float("inf"))  # no noise: the released sum itself
    rng = np.random.default_rng(0)
    everyone = noisy_counts([Home.create(world, members, config)], config, exact, rng)
    moved = [
        float(
            np.linalg.norm(
                everyone
                - noisy_counts(
                    [Home.create(world, np.delete(members, u), config)], config, exact, rng
                )
            )
        )
        for u in range(0, world.n_users, 17)
    ]
    assert max(moved) <= 1.0 + 1e-12
    assert max(moved) > 0.99  # every user's count vector has norm 1: the bound is tight


def test_head_items_spend_the_count_release_within_the_target() -> None:
    config = replace(TINY, iterations=1, head_items=50, count_share=0.05)
    privacy = calibrate(config, 8.0, 1e-5)
    inverse = 1 / privacy.round_multiplier**2 + 1 / privacy.count_multiplier**2
    assert privacy.count_multiplier < float("inf")
    one = gaussian_epsilon(noise_multiplier=inverse**-0.5, steps=1, delta=1e-5)
    assert one == pytest.approx(privacy.epsilon, rel=1e-9)
    assert 7.99 < privacy.epsilon <= 8.0


def test_untrained_tail_items_are_not_served(world: Split) -> None:
    partition = Partition(names=("a", "b"), user_instance=np.arange(world.n_users) % 2, how="hash")
    config = ALSConfig(dim=4, iterations=1, head_items=20, count_share=0.1)
    privacy = calibrate(config, 8.0, 1e-5)
    model = train_dpals(world, partition, config, privacy=privacy, seed=0)
    assert model.counts is not None
    head = top_items(model.counts, 20)
    np.testing.assert_array_equal(model.item_factors[~head], 0.0)
    assert np.all(np.linalg.norm(model.item_factors[head], axis=1) > 0)


def test_cut_tail_zeroes_the_rows_outside_the_largest_masses() -> None:
    items = np.arange(12.0).reshape(4, 3) + 1
    mass = np.array([0.5, 3.0, -2.0, 1.0])
    cut = cut_tail(items, mass, 2)
    np.testing.assert_array_equal(cut[[1, 3]], items[[1, 3]])
    np.testing.assert_array_equal(cut[[0, 2]], 0.0)
    np.testing.assert_array_equal(cut_tail(items, mass, 0), items)


def test_gram_floor_raises_the_small_eigenvalues_only() -> None:
    rng = np.random.default_rng(2)
    vectors = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    gram = (vectors * np.array([-3.0, 0.1, 5.0, 20.0])) @ vectors.T
    floored = floor_gram(gram, 0.1)
    np.testing.assert_allclose(np.linalg.eigvalsh(floored), [2.0, 2.0, 5.0, 20.0], atol=1e-9)
    assert floor_gram(gram, 0.0) is gram


def test_solve_items_reads_the_floored_gram() -> None:
    config = replace(TINY, item_gram="global")
    rng = np.random.default_rng(3)
    users = bound_users(rng.normal(size=(6, 3)), 1.0)
    weights = rng.random((6, 4))
    flat = local_statistics(users, weights, config)
    floored = replace(config, gram_floor=0.5)
    assert not np.allclose(solve_items(flat, 6, config), solve_items(flat, 6, floored))
    tri = np.triu_indices(3)
    expect = flat.copy()
    expect[-6:] = floor_gram(users.T @ users, 0.5)[tri]
    np.testing.assert_allclose(solve_items(flat, 6, floored), solve_items(expect, 6, config))


def test_the_one_release_runtime_refuses_a_head_and_publishes_the_tail_cut() -> None:
    import mpcrec.model.dpals_release as release

    with pytest.raises(ConfigError, match="head_items"):
        original = release.ALS_DP_ONE_RELEASE
        try:
            release.ALS_DP_ONE_RELEASE = replace(original, head_items=100)
            runtime_config(8)
        finally:
            release.ALS_DP_ONE_RELEASE = original
    config = replace(runtime_config(2), smoothing=0.0)
    rng = np.random.default_rng(4)
    total = rng.normal(size=(5 * 3 + 3 + 1))
    full = published_items(total, config, 5, 0.1)
    cut = published_items(total, replace(config, tail_cut=2), 5, 0.1)
    kept = np.linalg.norm(cut, axis=1) > 0
    assert kept.sum() == 2
    np.testing.assert_array_equal(cut[kept], full[kept])


def test_repeated_events_on_one_item_keep_each_users_weights_within_unit_norm() -> None:
    """A user who viewed the same video twice: the statistics sum the two events' weights on
    that item (:func:`~mpcrec.model.dpals.dense`), so the unit L2 bound must hold for the
    per-item sums, not only for the events (before: norm 1.59 here)."""
    config = replace(TINY, recency_boost=9.0)
    users = np.array([0, 0, 0, 0, 1, 1])
    items = np.array([2, 2, 5, 2, 1, 3])
    ages = np.array([0, 1, 2, 3, 0, 1])
    weights = statistic_weights(users, items, ages, 2, config)
    per_item = dense(users, items, weights, (2, 6))
    np.testing.assert_allclose(np.linalg.norm(per_item, axis=1), 1.0)
    unique = statistic_weights(users[4:] - 1, items[4:], ages[4:], 1, config)
    np.testing.assert_array_equal(unique, weights[4:])  # no repeat: the weights as before
