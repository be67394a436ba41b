"""EASE from the instances' summed Gram matrices (:mod:`mpcrec.model.item_gram`)."""

from __future__ import annotations

import numpy as np

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split, leave_last_out
from mpcrec.model.baselines import ease_scorer
from mpcrec.model.item_gram import (
    chosen_lambda,
    ease_viewer_scorer,
    federated_ease,
    instance_gram,
    viewed,
)
from mpcrec.model.metrics import evaluate
from tests.model.conftest import clustered


def _world() -> tuple[Split, Partition]:
    split = leave_last_out(clustered(n_users=40, n_items=30, per_user=5))
    who = np.arange(split.n_users, dtype=np.int64) % 3
    partition = Partition(names=["a", "b", "c"], user_instance=who, how="hash")
    return split, partition


def test_the_instances_grams_sum_to_the_central_one_and_each_is_its_users_alone() -> None:
    split, partition = _world()
    rows = viewed(split)
    grams = [instance_gram(rows, partition.members(k)) for k in range(3)]
    assert np.array_equal(np.sum(grams, axis=0), rows.T @ rows)
    others = rows.copy()
    others[partition.members(0)] = 0.0
    assert np.array_equal(instance_gram(others, partition.members(0)), np.zeros((30, 30)))


def test_federated_ease_scores_as_the_central_ease() -> None:
    split, partition = _world()
    users = np.arange(split.n_users)
    federated = ease_viewer_scorer(split, federated_ease(split, partition, 100.0))(users)
    central = np.asarray(ease_scorer(split, lam=100.0)(users))
    assert np.allclose(federated, central, atol=1e-9)
    assert np.all(np.diag(federated_ease(split, partition, 100.0)) == 0.0)


def test_the_lambda_is_the_one_of_the_best_validation_score() -> None:
    split, partition = _world()
    assert chosen_lambda(split, partition, [1e9]) == 1e9

    def valid(lam: float) -> float:
        scorer = ease_viewer_scorer(split, federated_ease(split, partition, lam))
        return evaluate(scorer, split, stage="valid")["ndcg@10"]

    lambdas = [0.1, 10.0, 1e4]
    assert valid(chosen_lambda(split, partition, lambdas)) == max(valid(x) for x in lambdas)
