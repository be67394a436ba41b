"""User-level DP-FedAvg of the sequence model: clipping, sampling, noise, learning."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mpcrec.data.partition import Partition
from mpcrec.data.split import whole_past
from mpcrec.model.metrics import evaluate
from mpcrec.model.seqrec import Contexts, SeqConfig, SeqModel, user_scorer
from mpcrec.model.seqrec_dp import SeqDPConfig, _by_user, train_seq_dp, user_delta
from tests.model.test_sequence import chain

CONFIG = SeqConfig(dim=8, context=2, lr=0.5, reg=0.001, loss="softmax")


def _two_instances(n_users: int) -> Partition:
    return Partition(names=("a", "b"), user_instance=np.arange(n_users) % 2, how="label")


def test_a_users_delta_is_clipped_to_the_norm() -> None:
    split = whole_past(chain())
    model = SeqModel.init(split.n_items, CONFIG, np.random.default_rng(0))
    data = Contexts.of(split, CONFIG, np.array([3]))
    free = user_delta(model, data, steps=3, clip_norm=np.inf)
    assert np.linalg.norm(free) > 0.05
    clipped = user_delta(model, data, steps=3, clip_norm=0.05)
    assert np.isclose(np.linalg.norm(clipped), 0.05)
    assert np.allclose(clipped, free * 0.05 / np.linalg.norm(free))


def test_no_user_drawn_and_no_noise_leaves_the_model_as_initialised() -> None:
    split = whole_past(chain())
    privacy = SeqDPConfig(rounds=3, user_rate=1e-9, clip_norm=1.0)
    model = train_seq_dp(split, _two_instances(split.n_users), CONFIG, privacy, seed=4)
    start = SeqModel.init(split.n_items, CONFIG, np.random.default_rng(4))
    assert np.array_equal(model.flat(), start.flat())


def test_noise_has_the_calibrated_scale() -> None:
    split = whole_past(chain())
    privacy = SeqDPConfig(rounds=1, user_rate=1e-9, clip_norm=0.5, noise_multiplier=2.0)
    model = train_seq_dp(split, _two_instances(split.n_users), CONFIG, privacy, seed=4)
    start = SeqModel.init(split.n_items, CONFIG, np.random.default_rng(4))
    moved = (model.flat() - start.flat()) * privacy.user_rate * split.n_users
    assert 0.9 < np.std(moved) / (2.0 * 2 * 0.5) < 1.1  # z * 2C, the replace-one std


@pytest.mark.parametrize("loss", ["softmax", "bpr"])
def test_clipped_sampled_training_learns_a_deterministic_chain(loss: str) -> None:
    split = whole_past(chain())
    privacy = SeqDPConfig(rounds=60, user_rate=0.5, clip_norm=5.0, user_steps=2)
    config = replace(CONFIG, loss=loss)
    model = train_seq_dp(split, _two_instances(split.n_users), config, privacy, seed=0)
    assert evaluate(user_scorer(model, split), split)["ndcg@10"] > 0.8


def test_each_users_examples_are_those_of_the_user_alone() -> None:
    split = whole_past(chain(n_users=6))
    by_user = _by_user(Contexts.of(split, CONFIG))
    for u in range(6):
        alone = Contexts.of(split, CONFIG, np.array([u]))
        assert np.array_equal(by_user[u].context, alone.context)
        assert np.array_equal(by_user[u].target, alone.target)
        assert np.array_equal(by_user[u].weight, alone.weight)
