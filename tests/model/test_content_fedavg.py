"""The content map trained in the federated rounds: the chain rule, and FedAvg when it is off."""

from __future__ import annotations

import numpy as np
import pytest

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.content import fit_content_map
from mpcrec.model.content_fedavg import (
    STEPS,
    ContentConfig,
    content_map_step,
    ridge_map_step,
    train_content_fedavg,
)
from mpcrec.model.fedavg import FedConfig, train_fedavg
from mpcrec.model.local import InstanceData, LocalConfig, local_update
from mpcrec.model.mf import MFConfig, bpr_gradients
from mpcrec.model.server import weighted_sum

MF = MFConfig(dim=4, lr=0.05, reg=0.01, batch_size=64, epochs=1)
CONFIG = FedConfig(rounds=3, local=LocalConfig(mf=MF, epochs=1))


def _halves(world: Split) -> Partition:
    return Partition(names=("a", "b"), user_instance=np.arange(world.n_users) % 2, how="label")


def _features(n_items: int, n_features: int = 6) -> np.ndarray:
    return np.random.default_rng(7).random((n_items, n_features))


def _objective(users: np.ndarray, rows: np.ndarray, triples: np.ndarray, reg: float) -> float:
    """The BPR objective of the triples (u, i, j) that bpr_gradients ascends."""
    u, i, j = triples.T
    x = np.einsum("bd,bd->b", users[u], rows[i] - rows[j])
    value = np.sum(np.log(1.0 / (1.0 + np.exp(-x))))
    penalty = np.sum(users[u] ** 2) + np.sum(rows[i] ** 2) + np.sum(rows[j] ** 2)
    return float(value - reg / 2.0 * penalty)


def test_map_step_is_the_chain_rule_against_finite_differences() -> None:
    rng = np.random.default_rng(0)
    n_users, n_items, dim = 5, 8, 4
    users = rng.normal(size=(n_users, dim))
    collab = rng.normal(size=(n_items, dim))
    features = _features(n_items)
    content_map = rng.normal(size=(features.shape[1], dim))
    triples = np.stack(
        [rng.integers(0, n_users, 20), rng.integers(0, n_items, 20), rng.integers(0, n_items, 20)],
        axis=1,
    )
    config = MFConfig(dim=dim, reg=0.01, item_bias=False)
    rows = collab + features @ content_map
    u, i, j = triples.T
    _, grad_i, grad_j = bpr_gradients(users[u], rows[i], rows[j], config)
    row_grad = np.zeros_like(rows)
    np.add.at(row_grad, i, grad_i)
    np.add.at(row_grad, j, grad_j)
    analytic = features.T @ row_grad  # what the server adds to W (times map_lr)
    summed = content_map_step(features, row_grad, ContentConfig(map_lr=1.0, step="summed"))
    np.testing.assert_allclose(summed, analytic)
    numeric = np.zeros_like(content_map)
    eps = 1e-6
    for index in np.ndindex(content_map.shape):
        step = np.zeros_like(content_map)
        step[index] = eps
        up = _objective(users, collab + features @ (content_map + step), triples, config.reg)
        down = _objective(users, collab + features @ (content_map - step), triples, config.reg)
        numeric[index] = (up - down) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("step", STEPS)
def test_without_a_map_step_it_is_fedavg_exactly(world: Split, step: str) -> None:
    features = _features(world.n_items)
    plain = train_fedavg(world, _halves(world), CONFIG, seed=3)
    model = train_content_fedavg(
        world, _halves(world), CONFIG, features, ContentConfig(map_lr=0.0, step=step), seed=3
    )
    np.testing.assert_array_equal(model.content_map, 0.0)
    np.testing.assert_array_equal(model.factors.item_emb, plain.item_emb)
    np.testing.assert_array_equal(model.factors.user_emb, plain.user_emb)


@pytest.mark.parametrize("step", STEPS)
def test_the_map_learns_and_rows_without_signal_are_content_rows(world: Split, step: str) -> None:
    features = _features(world.n_items)
    model = train_content_fedavg(
        world, _halves(world), CONFIG, features, ContentConfig(map_lr=0.05, step=step), seed=3
    )
    assert np.abs(model.content_map).max() > 0
    signal = np.bincount(world.train.items, minlength=world.n_items) > 0
    expected = features @ model.content_map + model.collaborative * signal[:, None]
    np.testing.assert_allclose(model.factors.item_emb, expected)


@pytest.mark.parametrize("step", ["summed", "averaged"])
def test_map_step_from_the_aggregate_equals_the_instances_own_steps(
    world: Split, step: str
) -> None:
    features = _features(world.n_items)
    rng = np.random.default_rng(0)
    items = rng.normal(scale=0.1, size=(world.n_items, MF.dim))
    partition = _halves(world)
    deltas, weights = [], [0.3, 0.7]
    for k in range(2):
        data = InstanceData.from_split(world, partition.members(k))
        users = rng.normal(scale=0.1, size=(data.n_users, MF.dim))
        deltas.append(local_update(items, data, users, CONFIG.local, rng).delta)
    aggregate = weighted_sum(deltas, weights).reshape(items.shape)
    content = ContentConfig(map_lr=0.1, step=step)
    own = sum(
        w * content_map_step(features, d.reshape(items.shape), content)
        for w, d in zip(weights, deltas, strict=True)
    )
    np.testing.assert_allclose(content_map_step(features, aggregate, content), own, atol=1e-12)


def test_averaged_step_is_each_features_mean_delta() -> None:
    """Twin: column j is the F-weighted mean of the deltas of the rows carrying feature j."""
    rng = np.random.default_rng(1)
    features = rng.random((9, 5)) * (rng.random((9, 5)) < 0.5)
    features[:, 0] = 0.3  # an always-on token (like ``bias``)
    features[:, 4] = 0.0  # a feature no row carries: no step
    aggregate = rng.normal(size=(9, 3))
    step = content_map_step(features, aggregate, ContentConfig(map_lr=0.5, step="averaged"))
    for j in range(5):
        carrying = features[:, j] > 0
        if not carrying.any():
            np.testing.assert_array_equal(step[j], 0.0)
            continue
        mean = np.average(aggregate[carrying], axis=0, weights=features[carrying, j])
        np.testing.assert_allclose(step[j], 0.5 * mean)
    np.testing.assert_allclose(step[0], 0.5 * aggregate.mean(axis=0))
    summed = content_map_step(features, aggregate, ContentConfig(map_lr=0.5, step="summed"))
    assert np.abs(step[0]).max() < np.abs(summed[0]).max()


def test_ridge_step_keeps_fedavgs_rows_and_fits_the_map_in_closed_form(world: Split) -> None:
    features = _features(world.n_items)
    plain = train_fedavg(world, _halves(world), CONFIG, seed=3)
    content = ContentConfig(map_lr=1.0, step="ridge", lam=0.5)
    model = train_content_fedavg(world, _halves(world), CONFIG, features, content, seed=3)
    signal = np.bincount(world.train.items, minlength=world.n_items) > 0
    expected = fit_content_map(features[signal], plain.item_emb[signal], lam=0.5)
    np.testing.assert_allclose(model.content_map, expected, atol=1e-12)
    np.testing.assert_allclose(model.factors.item_emb[signal], plain.item_emb[signal], atol=1e-12)
    np.testing.assert_array_equal(model.factors.user_emb, plain.user_emb)
    # closed form: the gradient of the ridge objective vanishes at the map
    residual = features[signal] @ model.content_map - plain.item_emb[signal]
    gradient = features[signal].T @ residual + 0.5 * model.content_map
    np.testing.assert_allclose(gradient, 0.0, atol=1e-9)


def test_a_partial_ridge_step_moves_part_of_the_way() -> None:
    rng = np.random.default_rng(2)
    features, rows = rng.random((12, 4)), rng.normal(size=(12, 3))
    start = rng.normal(size=(4, 3))
    target = fit_content_map(features, rows, lam=2.0)
    moved = ridge_map_step(features, rows, start, ContentConfig(map_lr=0.25, lam=2.0))
    np.testing.assert_allclose(moved, start + 0.25 * (target - start))


@pytest.mark.parametrize(
    "kwargs",
    [{"step": "mean"}, {"lam": 0.0}, {"map_lr": 1.5, "step": "ridge"}, {"map_lr": -0.1}],
)
def test_bad_content_configs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ContentConfig(**kwargs)  # type: ignore[arg-type]


def test_the_ridge_step_is_not_an_aggregate_step() -> None:
    with pytest.raises(ValueError, match="ridge_map_step"):
        content_map_step(np.ones((2, 2)), np.ones((2, 3)), ContentConfig(step="ridge"))
