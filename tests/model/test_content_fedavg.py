"""The content map trained in the federated rounds: the chain rule, and FedAvg when it is off."""

from __future__ import annotations

import numpy as np

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.content_fedavg import ContentConfig, content_map_step, train_content_fedavg
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
    numeric = np.zeros_like(content_map)
    eps = 1e-6
    for index in np.ndindex(content_map.shape):
        step = np.zeros_like(content_map)
        step[index] = eps
        up = _objective(users, collab + features @ (content_map + step), triples, config.reg)
        down = _objective(users, collab + features @ (content_map - step), triples, config.reg)
        numeric[index] = (up - down) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_without_a_map_step_it_is_fedavg_exactly(world: Split) -> None:
    features = _features(world.n_items)
    plain = train_fedavg(world, _halves(world), CONFIG, seed=3)
    model = train_content_fedavg(
        world, _halves(world), CONFIG, features, ContentConfig(map_lr=0.0), seed=3
    )
    np.testing.assert_array_equal(model.content_map, 0.0)
    np.testing.assert_array_equal(model.factors.item_emb, plain.item_emb)
    np.testing.assert_array_equal(model.factors.user_emb, plain.user_emb)


def test_the_map_learns_and_rows_without_signal_are_content_rows(world: Split) -> None:
    features = _features(world.n_items)
    model = train_content_fedavg(
        world, _halves(world), CONFIG, features, ContentConfig(map_lr=0.05), seed=3
    )
    assert np.abs(model.content_map).max() > 0
    signal = np.bincount(world.train.items, minlength=world.n_items) > 0
    expected = features @ model.content_map + model.collaborative * signal[:, None]
    np.testing.assert_allclose(model.factors.item_emb, expected)


def test_map_step_from_the_aggregate_equals_the_instances_own_steps(world: Split) -> None:
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
    content = ContentConfig(map_lr=0.1)
    own = sum(
        w * content_map_step(features, d.reshape(items.shape), content)
        for w, d in zip(weights, deltas, strict=True)
    )
    np.testing.assert_allclose(content_map_step(features, aggregate, content), own, atol=1e-12)
