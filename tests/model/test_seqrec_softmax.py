"""The full-softmax loss of the sequence model: its gradient, and what it learns."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mpcrec.data.partition import Partition
from mpcrec.data.split import whole_past
from mpcrec.model.metrics import evaluate
from mpcrec.model.seqrec import (
    SeqConfig,
    SeqModel,
    train_seq_central,
    train_seq_fedavg,
    user_scorer,
)
from mpcrec.model.seqrec_softmax import softmax_loss_and_grads
from tests.model.test_sequence import chain


def _batch(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    e = rng.normal(0.0, 0.5, size=(7, 4))
    v = rng.normal(0.0, 0.5, size=(7, 4))
    context = np.array([[3, 1, -1], [0, 0, 5], [6, -1, -1], [2, 4, 1]])
    weights = np.where(context >= 0, rng.random(context.shape) + 0.1, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    target = np.array([2, 5, 2, 0])
    event_weight = np.array([1.0, 3.0, 0.5, 2.0])
    return e, v, context, weights, target, event_weight


def test_gradients_match_finite_differences() -> None:
    e, v, context, weights, target, event_weight = _batch(np.random.default_rng(0))
    reg = 0.1
    _, grad_e, grad_v = softmax_loss_and_grads(e, v, context, weights, target, event_weight, reg)
    step = 1e-6
    for param, grad in ((e, grad_e), (v, grad_v)):
        numeric = np.zeros_like(param)
        for index in np.ndindex(*param.shape):
            saved = param[index]
            param[index] = saved + step
            up = softmax_loss_and_grads(e, v, context, weights, target, event_weight, reg)[0]
            param[index] = saved - step
            down = softmax_loss_and_grads(e, v, context, weights, target, event_weight, reg)[0]
            param[index] = saved
            numeric[index] = (up - down) / (2 * step)
        assert np.allclose(grad, numeric, atol=1e-6), np.abs(grad - numeric).max()
    # the bias coordinate of a context embedding never enters h: its gradient is reg only
    assert np.allclose(grad_e[6, -1], reg * e[6, -1] * (weights[2] > 0).sum())


def test_loss_is_the_weighted_cross_entropy_without_regularisation() -> None:
    e, v, context, weights, target, event_weight = _batch(np.random.default_rng(1))
    loss = softmax_loss_and_grads(e, v, context, weights, target, event_weight, 0.0)[0]
    h = np.einsum("bk,bkd->bd", weights, e[np.maximum(context, 0)])
    h[:, -1] = 1.0
    logits = h @ v.T
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert np.isclose(loss, -(event_weight * log_p[np.arange(4), target]).sum())


def test_long_term_weights_spread_over_the_longer_context() -> None:
    config = SeqConfig(dim=3, context=1, long_context=4, long_weight=0.5)
    model = SeqModel.init(6, config, np.random.default_rng(0))
    _, w = model.viewers(np.array([[5, 4, 3, -1]]))
    assert np.allclose(w, [[0.5 + 0.5 / 3, 0.5 / 3, 0.5 / 3, 0.0]])


def test_softmax_model_learns_a_deterministic_chain() -> None:
    split = whole_past(chain())
    config = SeqConfig(
        dim=16, context=2, lr=0.05, reg=0.001, epochs=30, batch_size=64, loss="softmax"
    )
    model = train_seq_central(split, config, seed=0)
    assert evaluate(user_scorer(model, split), split)["ndcg@10"] > 0.9


def test_one_instance_softmax_fedavg_is_central_and_shows_every_round() -> None:
    split = whole_past(chain(n_users=20))
    one = Partition(names=("all",), user_instance=np.zeros(split.n_users, np.int64), how="label")
    config = SeqConfig(dim=8, context=2, epochs=1, batch_size=16, loss="softmax", lr=0.05)
    seen: list[int] = []
    fed = train_seq_fedavg(
        split, one, config, rounds=4, seed=3, on_model=lambda r, m: seen.append(r)
    )
    central = train_seq_central(split, replace(config, epochs=4), seed=3)
    assert np.allclose(fed.flat(), central.flat(), atol=1e-9) and seen == [1, 2, 3, 4]
