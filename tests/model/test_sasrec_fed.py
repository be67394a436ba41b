"""SASRec by federated averaging: the secure rounds' arithmetic on a small world."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from mpcrec.data.partition import Partition
from mpcrec.data.split import leave_last_out
from mpcrec.model.metrics import evaluate
from mpcrec.model.sasrec import SASRec, train_sasrec
from mpcrec.model.sasrec_config import SASRecConfig, SASRecFedConfig
from mpcrec.model.sasrec_fed import (
    anonymous_sasrec_scorer,
    flat_parameters,
    load_flat,
    local_delta,
    sasrec_scorer,
    shards_of,
    train_sasrec_fedavg,
)
from tests.model.test_sequence import chain

SMALL = SASRecConfig(dim=8, blocks=1, max_len=6, dropout=0.0, lr=1e-2, batch_size=16, xavier=True)


def test_the_reference_models_payload_is_161472_values() -> None:
    model = SASRec(1682, SASRecConfig(dim=64, blocks=2, max_len=50))
    assert flat_parameters(model).shape == (161_472,)


def test_flat_parameters_round_trip() -> None:
    model = SASRec(10, SMALL)
    values = np.arange(flat_parameters(model).shape[0], dtype=np.float64) / 1000.0
    load_flat(model, values)
    assert np.allclose(flat_parameters(model), values, atol=1e-6)


def test_one_instance_one_epoch_a_round_is_central_training() -> None:
    split = leave_last_out(chain(n_users=20, n_items=12, length=9))
    config = replace(SMALL, epochs=1, dropout=0.2)
    one = Partition(names=("all",), user_instance=np.zeros(split.n_users, np.int64), how="label")

    central = train_sasrec(split, config, seed=3)
    fed = train_sasrec_fedavg(split, one, config, SASRecFedConfig(rounds=1), seed=3)

    users = np.arange(split.n_users)
    assert np.allclose(central(users), sasrec_scorer(fed, split)(users), atol=1e-5)


def test_with_kept_optimisers_one_instance_over_rounds_is_central_training_over_epochs() -> None:
    split = leave_last_out(chain(n_users=20, n_items=12, length=9))
    config = replace(SMALL, epochs=3, dropout=0.2)
    one = Partition(names=("all",), user_instance=np.zeros(split.n_users, np.int64), how="label")
    kept = SASRecFedConfig(rounds=3, keep_optimiser=True)

    central = train_sasrec(split, config, seed=4)
    fed = train_sasrec_fedavg(split, one, config, kept, seed=4)
    fresh = train_sasrec_fedavg(split, one, config, replace(kept, keep_optimiser=False), seed=4)

    users = np.arange(split.n_users)
    assert np.allclose(central(users), sasrec_scorer(fed, split)(users), atol=1e-5)
    assert not np.allclose(central(users), sasrec_scorer(fresh, split)(users), atol=1e-3)


def test_a_round_adds_the_prediction_weighted_mean_of_the_instances_deltas() -> None:
    split = leave_last_out(chain(n_users=18, n_items=12, length=9))
    assignment = (np.arange(split.n_users) % 3 == 0).astype(np.int64)  # 6 and 12 users
    two = Partition(names=("a", "b"), user_instance=assignment, how="label")
    fed = SASRecFedConfig(rounds=1, local_epochs=2, server_lr=1.5)
    torch.manual_seed(5)
    start = flat_parameters(SASRec(split.n_items, SMALL))

    got = flat_parameters(train_sasrec_fedavg(split, two, SMALL, fed, seed=5))

    generator = torch.Generator().manual_seed(5)
    model = SASRec(split.n_items, SMALL)
    shards = shards_of(split, two, SMALL.max_len)
    deltas = [local_delta(model, start, s, SMALL, fed, generator) for s in shards]
    counts = np.array([s.predictions for s in shards], dtype=np.float64)
    assert counts[0] > counts[1] > 0
    expected = start + 1.5 * (counts[0] * deltas[0] + counts[1] * deltas[1]) / counts.sum()
    assert np.allclose(got, expected, atol=1e-6)
    assert not np.allclose(deltas[0], deltas[1], atol=1e-3)


def test_fedavg_learns_a_deterministic_chain_for_both_viewers() -> None:
    split = leave_last_out(chain(n_users=24, n_items=30, length=6))
    four = Partition(
        names=("a", "b", "c", "d"), user_instance=np.arange(split.n_users) % 4, how="label"
    )
    start = SASRecFedConfig(rounds=0)
    trained = SASRecFedConfig(rounds=12, local_epochs=3)
    for fed, floor, ceiling in ((start, 0.0, 0.35), (trained, 0.6, 1.0)):
        model = train_sasrec_fedavg(split, four, SMALL, fed, seed=0)
        logged_in = evaluate(sasrec_scorer(model, split), split, stage="valid")["ndcg@10"]
        anonymous = evaluate(anonymous_sasrec_scorer(model, split), split, stage="valid")
        assert floor < logged_in <= ceiling and floor < anonymous["ndcg@10"] <= ceiling


def test_a_logged_in_viewer_read_from_one_item_is_the_anonymous_viewer() -> None:
    split = leave_last_out(chain(n_users=12, n_items=12, length=9))
    model = SASRec(split.n_items, SMALL)
    users = np.arange(split.n_users)
    one = sasrec_scorer(model, split, items=1)(users)
    assert np.allclose(one, anonymous_sasrec_scorer(model, split)(users), atol=1e-6)
    assert not np.allclose(one, sasrec_scorer(model, split)(users), atol=1e-4)
    assert np.allclose(
        sasrec_scorer(model, split, items=SMALL.max_len)(users), sasrec_scorer(model, split)(users)
    )
