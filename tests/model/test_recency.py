"""Recency weighting: event ages, weighted BPR steps, and FedAvg still mirroring central."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mpcrec.data.interactions import Interactions
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split, leave_last_out
from mpcrec.model.fedavg import FedConfig, train_fedavg
from mpcrec.model.local import InstanceData, LocalConfig
from mpcrec.model.mf import (
    MFConfig,
    bpr_gradients,
    event_ages,
    recency_weights,
    train_central,
)

SMALL = MFConfig(
    dim=8, lr=0.05, reg=0.005, batch_size=32, epochs=40, recency_boost=3.0, recency_half_life=2.0
)


def test_event_ages_count_later_events_of_the_same_user_ties_in_row_order() -> None:
    data = Interactions.from_columns(
        ["a", "b", "a", "a", "b", "a"],
        ["x", "x", "y", "z", "y", "w"],
        [5.0, 1.0, 2.0, 5.0, 0.0, 9.0],
        catalogue=["w", "x", "y", "z"],
    )
    # user a: y (t=2), x (t=5, row 0), z (t=5, row 3), w (t=9); user b: y (t=0), x (t=1)
    assert event_ages(data).tolist() == [2, 0, 3, 1, 1, 0]


def test_event_ages_agree_with_the_split_order(world: Split) -> None:
    ages = event_ages(world.train)
    for user in range(world.n_users):
        rows = np.flatnonzero(world.train.users == user)
        assert sorted(ages[rows].tolist()) == list(range(rows.shape[0]))
        newest = rows[ages[rows] == 0][0]
        assert world.train.timestamps[newest] == world.train.timestamps[rows].max()


def test_recency_weights_halve_the_boost_every_half_life() -> None:
    weights = recency_weights(np.array([0, 2, 4, 40]), SMALL)
    assert weights is not None
    assert np.allclose(weights[:3], [4.0, 2.5, 1.75], rtol=0, atol=1e-12)
    assert abs(weights[3] - 1.0) < 1e-5
    assert recency_weights(np.array([0, 1]), replace(SMALL, recency_boost=0.0)) is None
    assert recency_weights(None, SMALL) is None


def test_weights_scale_the_loss_gradient_but_not_the_regulariser() -> None:
    rng = np.random.default_rng(0)
    pu, qi, qj = (rng.normal(size=(5, 4)) for _ in range(3))
    config = MFConfig(dim=4, reg=0.1, item_bias=False)
    w = np.array([0.5, 1.0, 2.0, 3.0, 7.0])
    plain = bpr_gradients(pu, qi, qj, config)
    weighted = bpr_gradients(pu, qi, qj, config, w)
    for a, b, reg_term in zip(plain, weighted, (pu, qi, qj), strict=True):
        loss_a, loss_b = a + config.reg * reg_term, b + config.reg * reg_term
        assert np.allclose(loss_b, w[:, None] * loss_a, rtol=1e-12, atol=1e-12)


def test_recency_changes_training_and_fedavg_with_one_instance_still_equals_central(
    world: Split,
) -> None:
    one = Partition(
        names=("all",), user_instance=np.zeros(world.n_users, dtype=np.int64), how="label"
    )
    config = FedConfig(rounds=3, local=LocalConfig(mf=SMALL, epochs=1), server_lr=1.0)
    fed = train_fedavg(world, one, config, seed=7)
    central = train_central(world, SMALL, seed=7, epochs=3)
    assert np.allclose(fed.item_emb, central.item_emb, rtol=0, atol=1e-12)
    assert np.allclose(fed.user_emb, central.user_emb, rtol=0, atol=1e-12)
    flat = train_central(world, replace(SMALL, recency_boost=0.0), seed=7, epochs=3)
    assert not np.allclose(central.item_emb, flat.item_emb, rtol=0, atol=1e-6)


def test_instance_ages_are_the_users_own_whatever_the_shard(world: Split) -> None:
    everyone = event_ages(world.train)
    members = np.arange(0, world.n_users, 3)
    data = InstanceData.from_split(world, members)
    assert data.ages is not None
    rows = np.flatnonzero(np.isin(world.train.users, members))
    assert np.array_equal(data.ages, everyone[rows])


def test_a_shifted_clock_does_not_change_the_ages() -> None:
    data = Interactions.from_columns(
        ["a", "a", "a", "b", "b", "b"],
        ["x", "y", "z", "x", "y", "z"],
        [3.0, 1.0, 2.0, 10.0, 30.0, 20.0],
        catalogue=["x", "y", "z"],
    )
    shifted = replace(data, timestamps=data.timestamps + 1e6)
    assert np.array_equal(event_ages(data), event_ages(shifted))
    split = leave_last_out(data)
    assert event_ages(split.train).tolist() == [0, 0]
