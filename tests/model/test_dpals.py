"""DP-ALS: every pure step against its closed-form or plaintext twin."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from mpcrec.bench.quality_dp import calibrate
from mpcrec.data.interactions import ItemMeta
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split, leave_last_out
from mpcrec.errors import ConfigError
from mpcrec.model.baselines import popularity_scorer
from mpcrec.model.dpals import (
    ALSConfig,
    add_noise,
    block_sigmas,
    block_sizes,
    bound_users,
    effective_noise_multiplier,
    local_statistics,
    payload_size,
    sensitivities,
    smooth_items,
    solve_items,
    solve_users,
    statistic_weights,
    unpack,
)
from mpcrec.model.dpals_train import Privacy, metadata_items, train_dpals
from mpcrec.model.metrics import evaluate
from mpcrec.privacy.accountant import gaussian_epsilon
from tests.model.conftest import clustered

TINY = ALSConfig(dim=3, reg=0.7, unobserved=0.2, user_reg=0.5, user_unobserved=0.3)


def _tiny(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    users = bound_users(rng.normal(size=(7, 3)), 1.0)
    weights = rng.random((7, 5)) * (rng.random((7, 5)) < 0.6)
    return users, weights


@pytest.mark.parametrize("item_gram", ["per-item", "global"])
def test_noiseless_round_is_exact_als_item_solve(item_gram: str) -> None:
    config = replace(TINY, item_gram=item_gram)
    users, weights = _tiny()
    summed = local_statistics(users[:4], weights[:4], config) + local_statistics(
        users[4:], weights[4:], config
    )
    got = solve_items(summed, n_users=7, config=config)
    gram = users.T @ users
    for i in range(5):
        w = weights[:, i]
        if item_gram == "per-item":
            item_gram_i = (users * w[:, None]).T @ users
        else:
            item_gram_i = w.sum() * gram / 7
        lhs = item_gram_i + 0.2 * gram + 0.7 * np.eye(3)
        np.testing.assert_allclose(got[i], np.linalg.solve(lhs, users.T @ w), rtol=1e-10)


@pytest.mark.parametrize("bias", [False, True])
def test_user_solve_zeroes_the_gradient_of_the_ials_loss(bias: bool) -> None:
    config = replace(TINY, item_bias=bias)
    rng = np.random.default_rng(1)
    items = rng.normal(size=(5, 3))
    conf = rng.random((4, 5)) * (rng.random((4, 5)) < 0.7)
    solved = solve_users(items, conf, config)
    if bias:
        np.testing.assert_array_equal(solved[:, -1], 1.0)
    free = 2 if bias else 3
    for u in range(4):
        pred = items @ solved[u]
        # d/du of sum_i c (1 - u.v)^2 + w0 sum_i (u.v)^2 + lam |u_free|^2, free coords only
        grad = -2 * items.T @ (conf[u] * (1 - pred)) + 2 * 0.3 * items.T @ pred
        grad[:free] += 2 * 0.5 * solved[u, :free]
        np.testing.assert_allclose(grad[:free], 0.0, atol=1e-10)


def test_unpack_rebuilds_the_symmetric_grams() -> None:
    config = replace(TINY, item_gram="per-item")
    users, weights = _tiny(2)
    part = unpack(local_statistics(users, weights, config), config)
    np.testing.assert_allclose(part["gram"][2], (users * weights[:, 2:3]).T @ users)
    np.testing.assert_allclose(part["global"], users.T @ users)
    np.testing.assert_allclose(part["rhs"], weights.T @ users)


def test_payload_at_dim_32_on_movielens_100k() -> None:
    assert payload_size(ALSConfig(dim=32, item_gram="per-item"), 1682) == 1682 * (528 + 32) + 528
    assert payload_size(ALSConfig(dim=32, item_gram="global"), 1682) == 1682 * 33 + 528


@pytest.mark.parametrize("item_gram", ["per-item", "global"])
def test_adversarial_user_moves_each_block_by_at_most_its_sensitivity(item_gram: str) -> None:
    """A user with every item, extreme confidences and a huge factor, replaced by another."""
    config = replace(TINY, item_gram=item_gram, max_items=4, tail_exponent=0.5)
    rng = np.random.default_rng(3)
    n_items, others = 5, 6
    counts = rng.random(n_items) * 3  # public noisy counts, some below 1
    users = np.repeat(np.arange(others + 1), n_items)
    items = np.tile(np.arange(n_items), others + 1)
    ages = rng.integers(0, 9, size=users.shape[0])
    weights = statistic_weights(users, items, ages, others + 1, config, counts)
    dense_w = np.zeros((others + 1, n_items))
    dense_w[users, items] = weights
    assert np.all(np.linalg.norm(dense_w, axis=1) <= 1 + 1e-12)
    assert np.all((dense_w > 0).sum(axis=1) <= 4)
    factors = bound_users(rng.normal(size=(others + 1, 3)) * 1e6, config.user_norm)
    rival = bound_users(-factors[-1:] * 1e6, config.user_norm)
    stats_a = local_statistics(factors, dense_w, config)
    rival_w = np.zeros((1, n_items))
    rival_w[0, 0] = 1.0  # the whole weight on the one item the adversary shares most
    stats_b = local_statistics(
        np.vstack([factors[:-1], rival]), np.vstack([dense_w[:-1], rival_w]), config
    )
    stats_none = local_statistics(factors[:-1], dense_w[:-1], config)
    start = 0
    for name, size in block_sizes(config, n_items).items():
        part = slice(start, start + size)
        start += size
        bound = sensitivities(config)[name]
        assert np.linalg.norm(stats_a[part] - stats_none[part]) <= bound / 2 + 1e-9
        assert np.linalg.norm(stats_a[part] - stats_b[part]) <= bound + 1e-9


def test_block_noise_is_one_gaussian_of_the_round_multiplier() -> None:
    for item_gram in ("per-item", "global"):
        config = replace(TINY, item_gram=item_gram, shares=(0.2, 0.5, 0.1, 0.3))
        sigmas = block_sigmas(1.7, config)
        assert effective_noise_multiplier(sigmas, config) == pytest.approx(1.7)


def test_add_noise_has_each_blocks_std() -> None:
    config = replace(TINY, item_gram="per-item")
    sigmas = {"gram": 1.0, "rhs": 5.0, "global": 0.0}
    zero = np.zeros(payload_size(config, 2000))
    noisy = add_noise(zero, sigmas, config, np.random.default_rng(4))
    sizes = block_sizes(config, 2000)
    gram, rhs = noisy[: sizes["gram"]], noisy[sizes["gram"] : sizes["gram"] + sizes["rhs"]]
    assert np.std(gram) == pytest.approx(1.0, rel=0.05)
    assert np.std(rhs) == pytest.approx(5.0, rel=0.05)
    np.testing.assert_array_equal(noisy[-6:], 0.0)


@pytest.mark.parametrize("tail", [0.0, 0.5])
def test_calibration_spends_the_target_epsilon(tail: float) -> None:
    config = replace(TINY, iterations=4, tail_exponent=tail, count_share=0.1)
    privacy = calibrate(config, 8.0, 1e-5)
    assert 7.9 < privacy.epsilon <= 8.0
    # unsampled Gaussians compose into one: 1/z1^2 = 1/z_count^2 + T/z^2
    inverse = config.iterations / privacy.round_multiplier**2
    if tail:
        inverse += 1 / privacy.count_multiplier**2
    one = gaussian_epsilon(noise_multiplier=inverse**-0.5, steps=1, delta=1e-5)
    assert one == pytest.approx(privacy.epsilon, rel=1e-9)
    assert calibrate(config, math.inf).round_multiplier == 0.0


def test_noiseless_dpals_beats_popularity_on_the_clustered_world(world: Split) -> None:
    partition = Partition(
        names=("a", "b", "c"), user_instance=np.arange(world.n_users) % 3, how="hash"
    )
    config = ALSConfig(dim=8, iterations=4, reg=0.1, unobserved=0.01, item_gram="per-item")
    model = train_dpals(world, partition, config, privacy=Privacy.none(), seed=0)
    als = evaluate(model.scores, world, stage="valid")["ndcg@10"]
    popular = evaluate(popularity_scorer(world, seed=0), world, stage="valid")["ndcg@10"]
    assert als > popular + 0.1


def test_metadata_start_is_the_principal_directions_of_the_tags(world: Split) -> None:
    with pytest.raises(ConfigError):
        metadata_items(world, 3, 0.1)  # the clustered world has no metadata
    data = clustered(n_users=20, n_items=12, n_clusters=2, per_user=4)
    meta = tuple(
        ItemMeta(title=f"t{i}", tags=(f"g{i % 3}",), published=float(i)) for i in range(12)
    )
    split = leave_last_out(replace(data, item_meta=meta))
    items = metadata_items(split, 5, 0.2)
    assert np.linalg.norm(items, axis=1).mean() == pytest.approx(0.2)
    gram = items.T @ items
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-10)
    np.testing.assert_array_equal(items[:, 4], 0.0)  # 3 tags + year, centred: rank <= 4


def test_prior_ridge_pulls_the_item_solve_toward_the_public_start() -> None:
    users, weights = _tiny(2)
    config = replace(TINY, item_gram="global")
    summed = local_statistics(users, weights, config)
    prior = np.random.default_rng(3).normal(size=(5, 3))
    plain = solve_items(summed, n_users=7, config=config)
    off = solve_items(summed, n_users=7, config=config, prior=prior)  # prior_reg 0: ignored
    np.testing.assert_array_equal(off, plain)
    strong = replace(config, prior_reg=1e9, prior_scale=2.0)
    np.testing.assert_allclose(
        solve_items(summed, n_users=7, config=strong, prior=prior), 2.0 * prior, rtol=1e-6
    )
    mild = replace(config, prior_reg=0.5)
    got = solve_items(summed, n_users=7, config=mild, prior=prior)
    part = unpack(summed, config)
    lhs = part["mass"][0] * part["global"] / 7 + 0.2 * part["global"] + 1.2 * np.eye(3)
    np.testing.assert_allclose(got[0], np.linalg.solve(lhs, part["rhs"][0] + 0.5 * prior[0]))
    with pytest.raises(ValueError, match="prior of shape"):
        solve_items(summed, n_users=7, config=mild, prior=prior[:4])
    with pytest.raises(ValueError, match="prior_reg"):
        ALSConfig(prior_reg=-1.0)


def test_content_start_adds_the_title_words_to_the_tags() -> None:
    data = clustered(n_users=20, n_items=12, n_clusters=2, per_user=4)
    titles = ["star wars", "star trek", "alien", "aliens"] * 3
    meta = tuple(ItemMeta(title=titles[i], tags=("drama",), published=1990.0) for i in range(12))
    split = leave_last_out(replace(data, item_meta=meta))
    tags_only = metadata_items(split, 3, 0.2)
    np.testing.assert_allclose(tags_only, 0.0)  # one tag, one year: nothing varies
    items = metadata_items(split, 3, 0.2, words=True)
    assert np.linalg.norm(items, axis=1).mean() == pytest.approx(0.2)
    np.testing.assert_allclose(items[0], items[4])  # same title, same row
    assert np.linalg.norm(items[0] - items[2]) > 0.05  # different words, different rows


def test_smoothing_gives_tail_items_what_their_metadata_predicts() -> None:
    rng = np.random.default_rng(4)
    features = rng.random((30, 4))
    truth = features @ rng.normal(size=(4, 3)) + 0.5
    mass = np.where(np.arange(30) < 20, 50.0, 0.0)  # ten tail items with no mass at all
    noisy = truth + np.where(mass[:, None] > 0, 0.0, rng.normal(0.0, 3.0, size=(30, 3)))
    got = smooth_items(noisy, mass, features, strength=1.0, lam=1e-9)
    np.testing.assert_allclose(got[20:], truth[20:], atol=1e-6)  # predicted from head items
    np.testing.assert_allclose(got[:20], truth[:20], atol=1e-6)  # head items keep theirs
    unchanged = smooth_items(noisy, mass + 1.0, features, strength=0.0, lam=1.0)
    np.testing.assert_allclose(unchanged, noisy)
    with pytest.raises(ValueError, match="feature rows"):
        smooth_items(noisy, mass, features[:5], strength=1.0, lam=1.0)
