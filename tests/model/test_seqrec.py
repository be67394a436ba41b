"""The federation's sequence model and SASRec on a world where the next item is known."""

from __future__ import annotations

import numpy as np
import pytest

from mpcrec.data.partition import Partition
from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.model.baselines import popularity_scorer
from mpcrec.model.metrics import evaluate
from mpcrec.model.sasrec import (
    SASRec,
    SASRecConfig,
    stale,
    train_sasrec,
    validation_curve,
    windows,
)
from mpcrec.model.seqrec import (
    Contexts,
    SeqConfig,
    SeqModel,
    anonymous_scorer,
    train_seq_central,
    train_seq_fedavg,
    user_scorer,
)
from tests.model.test_sequence import chain

SMALL = SeqConfig(dim=16, context=2, lr=0.1, reg=0.001, epochs=40, batch_size=64)


def test_contexts_are_the_items_before_each_event_newest_first() -> None:
    split = whole_past(chain(n_users=2, n_items=30, length=5))
    data = Contexts.of(split, SeqConfig(context=3))
    first = np.flatnonzero(data.user == 0)
    assert data.context.shape == (6, 3) and first.shape == (3,)
    rows = data.context[first].tolist()
    targets = data.target[first].tolist()
    for row, target in zip(rows, targets, strict=True):
        known = [c for c in row if c >= 0]  # the chain: k+1 steps before the target
        assert all((target - c - (k + 1)) % 30 == 0 for k, c in enumerate(known))
    assert [len([c for c in r if c >= 0]) for r in rows] == [1, 2, 3]


def test_viewer_weights_decay_and_ignore_padding() -> None:
    model = SeqModel.init(4, SeqConfig(dim=3, context=3, decay=0.5), np.random.default_rng(0))
    h, w = model.viewers(np.array([[2, 1, -1]]))
    assert w.tolist() == [[2 / 3, 1 / 3, 0.0]]
    expected = 2 / 3 * model.context_emb[2] + 1 / 3 * model.context_emb[1]
    assert np.allclose(h[0, :-1], expected[:-1]) and h[0, -1] == 1.0


def test_seq_model_learns_a_deterministic_chain() -> None:
    data = chain()
    split = whole_past(data)
    model = train_seq_central(split, SMALL, seed=0)
    logged_in = evaluate(user_scorer(model, split), split)["ndcg@10"]
    anonymous = evaluate(anonymous_scorer(model, split), split)["ndcg@10"]
    popular = evaluate(popularity_scorer(split, seed=0), split)["ndcg@10"]
    assert logged_in > 0.9 and anonymous > 0.9 and popular < 0.5


def test_one_instance_fedavg_is_central_training() -> None:
    split = leave_last_out(chain(n_users=20))
    one = Partition(names=("all",), user_instance=np.zeros(split.n_users, np.int64), how="label")
    config = SeqConfig(dim=8, context=2, epochs=1, batch_size=16)
    fed = train_seq_fedavg(split, one, config, rounds=5, seed=3)
    central = train_seq_central(split, SeqConfig(dim=8, context=2, epochs=5, batch_size=16), seed=3)
    assert np.allclose(fed.flat(), central.flat(), atol=1e-12)
    assert fed.flat().shape == (2 * split.n_items * 8,)


def test_sasrec_windows_predict_the_next_item() -> None:
    inputs, targets = windows([np.array([5, 6, 7, 8, 9])], max_len=3)
    assert inputs.tolist() == [[7, 8, 9], [0, 0, 6]]  # item + 1, left-padded with 0
    # input 6 7 8 (+1) predicts 7 8 9; input 5 predicts 6 (targets are raw ids, -100 = pad)
    assert targets.tolist() == [[7, 8, 9], [-100, -100, 6]]


@pytest.mark.timeout(120)
def test_sasrec_learns_a_deterministic_chain() -> None:
    split = whole_past(chain())
    config = SASRecConfig(dim=16, blocks=1, max_len=8, dropout=0.0, lr=0.01, epochs=60)
    scorer = train_sasrec(split, config, seed=0)
    assert evaluate(scorer, split)["ndcg@10"] > 0.9


def test_stale_waits_for_patience_checks_without_a_new_best() -> None:
    curve = [(5, 0.1), (10, 0.3), (15, 0.2), (20, 0.25)]
    assert stale(curve, 2) and not stale(curve, 3) and not stale(curve, 0)
    assert not stale([*curve[:2], (15, 0.31)], 1)


def test_xavier_init_starts_from_small_item_rows_and_a_zero_padding_row() -> None:
    model = SASRec(100, SASRecConfig(dim=16, blocks=1, max_len=8, xavier=True))
    rows = model.item.weight.detach()
    assert float(rows[0].abs().max()) == 0.0 and 0.01 < float(rows[1:].std()) < 0.3


@pytest.mark.timeout(120)
def test_validation_curve_stops_early_when_validation_stops_improving() -> None:
    split = leave_last_out(chain())
    config = SASRecConfig(
        dim=16, blocks=1, max_len=8, dropout=0.0, lr=0.01, epochs=200, xavier=True, patience=2
    )
    curve = validation_curve(split, config, seed=0, every=5)
    assert max(score for _, score in curve) > 0.9 and len(curve) < 40
    assert stale(curve, 2)
