"""Ranking metrics on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpcrec.data.interactions import IntArray, Interactions
from mpcrec.data.split import Split, leave_last_out, whole_past
from mpcrec.model.metrics import Ranks, evaluate, rank_held_out


def tiny() -> Split:
    # user a: train {0}, valid 1, test 2;  user b: train {3}, valid 4, test 0  (5 items)
    data = Interactions.from_columns(
        ["a", "a", "a", "b", "b", "b"],
        ["0", "1", "2", "3", "4", "0"],
        [1.0, 2.0, 3.0, 1.0, 2.0, 3.0],
    )
    return leave_last_out(data)


def fixed(scores: list[list[float]]) -> object:
    table = np.array(scores, dtype=np.float64)

    def scorer(users: IntArray) -> np.ndarray:
        return table[users]

    return scorer


def test_ranks_exclude_train_and_validation_at_test() -> None:
    split = tiny()
    scores = fixed([[9, 8, 7, 1, 0], [5, 0, 0, 9, 8]])
    # a: candidates {1,2,3,4} at valid -> 1 is top (rank 0); at test {2,3,4} -> 2 is top
    # b: valid 4 among {0,1,2,4} -> 0 (score 5) beats 4? no, 8 > 5 -> rank 0;
    #    test 0 among {0,1,2} (4 excluded) -> rank 0
    assert rank_held_out(scores, split, stage="valid").ranks.tolist() == [0, 0]  # type: ignore[arg-type]
    assert rank_held_out(scores, split, stage="test").ranks.tolist() == [0, 0]  # type: ignore[arg-type]
    worse = fixed([[0, 0, 1, 5, 6], [1, 7, 6, 0, 9]])
    # a test: 2 (1) below 3 (5) and 4 (6) -> rank 2; b test: 0 (1) below 1 (7) and 2 (6)
    assert rank_held_out(worse, split, stage="test").ranks.tolist() == [2, 2]  # type: ignore[arg-type]


def test_ties_count_against_the_held_out_item() -> None:
    split = tiny()
    flat = fixed([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]])
    assert rank_held_out(flat, split, stage="test").ranks.tolist() == [2, 2]  # type: ignore[arg-type]


def test_metric_values() -> None:
    ranks = Ranks(ranks=np.array([0, 3, 9, 10, 19, 25]))
    assert ranks.hit_rate(10) == pytest.approx(3 / 6)
    assert ranks.hit_rate(20) == pytest.approx(5 / 6)
    expected10 = (1 / math.log2(2) + 1 / math.log2(5) + 1 / math.log2(11)) / 6
    assert ranks.ndcg(10) == pytest.approx(expected10)
    expected20 = expected10 + (1 / math.log2(12) + 1 / math.log2(21)) / 6
    assert ranks.summary()["ndcg@20"] == pytest.approx(expected20)
    assert ranks.summary()["recall@20"] == pytest.approx(5 / 6)


def test_perfect_scorer_scores_one() -> None:
    split = tiny()

    def oracle(users: IntArray) -> np.ndarray:
        scores = np.zeros((users.shape[0], split.n_items))
        scores[np.arange(users.shape[0]), split.test_item[users]] = 1.0
        return scores

    assert evaluate(oracle, split) == {
        "hr@10": 1.0,
        "ndcg@10": 1.0,
        "recall@20": 1.0,
        "ndcg@20": 1.0,
    }


def test_whole_past_view_has_no_validation_stage() -> None:
    data = Interactions.from_columns(
        ["a", "a", "a", "b", "b", "b"], ["0", "1", "2", "3", "4", "0"], [1, 2, 3, 1, 2, 3]
    )
    past = whole_past(data)
    scores = fixed([[9, 8, 7, 1, 0], [5, 0, 0, 9, 8]])
    assert rank_held_out(scores, past, stage="test").ranks.tolist() == [0, 0]  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tune on leave_last_out"):
        rank_held_out(scores, past, stage="valid")  # type: ignore[arg-type]
