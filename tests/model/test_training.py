"""MF learns; FedAvg mirrors central training; clipping bounds influence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.baselines import popularity_scorer, random_scorer
from mpcrec.model.fedavg import FedConfig, train_fedavg
from mpcrec.model.local import InstanceData, LocalConfig, local_update
from mpcrec.model.metrics import evaluate
from mpcrec.model.mf import MFConfig, init_factors, train_central

SMALL = MFConfig(dim=8, lr=0.05, reg=0.005, batch_size=32, epochs=40, init_std=0.1)


def one_instance(split: Split) -> Partition:
    return Partition(
        names=("all",), user_instance=np.zeros(split.n_users, dtype=np.int64), how="label"
    )


def test_mf_beats_popularity(world: Split) -> None:
    factors = train_central(world, SMALL, seed=0)
    mf = evaluate(factors.scores, world)["ndcg@10"]
    pop = evaluate(popularity_scorer(world, seed=0), world)["ndcg@10"]
    assert mf > 1.5 * pop
    assert mf > 0.3


def test_fedavg_with_one_instance_equals_central(world: Split) -> None:
    config = FedConfig(rounds=3, local=LocalConfig(mf=SMALL, epochs=1), server_lr=1.0)
    fed = train_fedavg(world, one_instance(world), config, seed=7)
    central = train_central(world, SMALL, seed=7, epochs=3)
    assert np.allclose(fed.item_emb, central.item_emb, rtol=0, atol=1e-12)
    assert np.allclose(fed.user_emb, central.user_emb, rtol=0, atol=1e-12)
    assert not np.allclose(central.item_emb, train_central(world, SMALL, seed=7, epochs=2).item_emb)


def test_fedavg_aggregates_instances_with_example_weights(world: Split) -> None:
    halves = Partition(names=("a", "b"), user_instance=np.arange(world.n_users) % 2, how="label")
    config = FedConfig(rounds=1, local=LocalConfig(mf=SMALL, epochs=1), server_lr=2.0)
    fed = train_fedavg(world, halves, config, seed=3)
    # replay the round by hand: same init, instances in order from the same generator
    rng = np.random.default_rng(3)
    start = init_factors(world.n_users, world.n_items, SMALL, rng)
    deltas, sizes = [], []
    for k in range(2):
        data = InstanceData.from_split(world, halves.members(k))
        result = local_update(
            start.item_emb, data, start.user_emb[data.global_users], config.local, rng
        )
        deltas.append(result.delta)
        sizes.append(data.n_events)
    expected = start.item_emb.ravel() + 2.0 * (sizes[0] * deltas[0] + sizes[1] * deltas[1]) / sum(
        sizes
    )
    assert np.allclose(fed.item_emb.ravel(), expected, rtol=0, atol=1e-12)


def test_local_update_leaves_inputs_alone(world: Split) -> None:
    rng = np.random.default_rng(0)
    start = init_factors(world.n_users, world.n_items, SMALL, rng)
    items, users = start.item_emb.copy(), start.user_emb.copy()
    data = InstanceData.from_split(world, np.arange(world.n_users))
    for clip in ("none", "instance", "user"):
        config = LocalConfig(mf=SMALL, clip=clip, clip_norm=0.5)
        result = local_update(start.item_emb, data, start.user_emb, config, rng)
        assert result.delta.shape == (world.n_items * SMALL.dim,)
    assert np.array_equal(items, start.item_emb) and np.array_equal(users, start.user_emb)


def test_instance_clipping_bounds_the_delta(world: Split) -> None:
    rng = np.random.default_rng(0)
    start = init_factors(world.n_users, world.n_items, SMALL, rng)
    data = InstanceData.from_split(world, np.arange(world.n_users))
    free = local_update(start.item_emb, data, start.user_emb, LocalConfig(mf=SMALL), rng)
    assert np.linalg.norm(free.delta) > 0.5
    clipped = local_update(
        start.item_emb,
        data,
        start.user_emb,
        LocalConfig(mf=SMALL, clip="instance", clip_norm=0.5),
        rng,
    )
    assert np.linalg.norm(clipped.delta) == pytest.approx(0.5)


@pytest.mark.parametrize("steps", [1, 3])
def test_per_user_clipping_bounds_one_users_influence(world: Split, steps: int) -> None:
    """Removing one user's events moves the instance's delta by at most C (and more without)."""
    rng = np.random.default_rng(0)
    start = init_factors(world.n_users, world.n_items, SMALL, rng)
    members = np.arange(world.n_users)
    full = InstanceData.from_split(world, members)
    order = np.argsort(full.users, kind="stable")  # the last user's events last
    full = InstanceData(users=full.users[order], items=full.items[order], global_users=members)
    keep = full.users < full.n_users - 1
    without = InstanceData(
        users=full.users[keep], items=full.items[keep], global_users=members[:-1]
    )

    def shift(clip_norm: float) -> float:
        config = LocalConfig(
            mf=SMALL, clip="user", clip_norm=clip_norm, user_rate=1.0, user_steps=steps
        )
        a = local_update(start.item_emb, full, start.user_emb, config, np.random.default_rng(5))
        b = local_update(
            start.item_emb, without, start.user_emb[:-1], config, np.random.default_rng(5)
        )
        assert a.n_contributors == b.n_contributors + 1
        return float(np.linalg.norm(a.delta - b.delta))

    unclipped = shift(math.inf)
    bound = unclipped / 4
    assert shift(bound) <= bound * (1 + 1e-9)
    assert shift(bound) == pytest.approx(bound)  # the user's own delta, clipped to C


def test_noise_needs_clipping() -> None:
    with pytest.raises(ValueError, match="clipping"):
        FedConfig(noise_multiplier=1.0)
    with pytest.raises(ValueError, match="uniform"):
        FedConfig(noise_multiplier=1.0, local=LocalConfig(clip="instance", clip_norm=1.0))


def test_user_level_dp_run_learns_something(world: Split) -> None:
    config = FedConfig(
        rounds=30,
        local=LocalConfig(mf=SMALL, clip="user", clip_norm=0.1, user_rate=0.5, user_steps=2),
        noise_multiplier=0.5,
        server_lr=10.0,
        server_momentum=0.5,
    )
    fed = train_fedavg(world, one_instance(world), config, seed=0)
    dp = evaluate(fed.scores, world)["ndcg@10"]
    chance = evaluate(random_scorer(world, seed=0), world)["ndcg@10"]
    assert dp > 3 * chance
