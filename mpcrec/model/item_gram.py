"""An item-to-item term the federation can build in one secure round: EASE on summed Grams.

Every instance computes the Gram matrix ``G_k = X_k^T X_k`` of its own users' binary
training rows (``n_items^2`` co-view counts, nothing per user) and the secure round sums
them: ``G = sum_k G_k = X^T X``, the only thing revealed. EASE's closed form (Steck, WWW
2019) on it is public arithmetic, ``P = (G + lam I)^-1``, ``B = I - P / diag(P)`` with a
zero diagonal, and a viewer scores ``x_u B`` at their own instance from their own history
(no per-user parameter). The plaintext twin of that round is the sum below; it equals the
central ``X^T X`` exactly (tested), so :func:`federated_ease` is the central EASE fitted
from what one secure round reveals.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mpcrec.data.interactions import IntArray
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.baselines import EASE_LAMBDAS
from mpcrec.model.metrics import Scorer, evaluate
from mpcrec.model.mf import Matrix


def viewed(split: Split) -> Matrix:
    """Every user's binary training row (``n_users x n_items``)."""
    x = np.zeros((split.n_users, split.n_items), dtype=np.float64)
    x[split.train.users, split.train.items] = 1.0
    return x


def instance_gram(rows: Matrix, users: IntArray) -> Matrix:
    """``X_k^T X_k`` of the instance whose users are ``users``: its contribution."""
    x = rows[users]
    return np.asarray(x.T @ x, dtype=np.float64)


def ease_weights(gram: Matrix, lam: float) -> Matrix:
    """EASE's item-to-item weights ``B`` from the summed Gram matrix (zero diagonal)."""
    p = np.linalg.inv(gram + lam * np.eye(gram.shape[0]))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    return np.asarray(b, dtype=np.float64)


def federated_ease(split: Split, partition: Partition, lam: float) -> Matrix:
    """``B`` from the sum of every instance's Gram matrix (the secure round's twin)."""
    rows = viewed(split)
    grams = [instance_gram(rows, partition.members(k)) for k in range(partition.n_instances)]
    return ease_weights(np.sum(grams, axis=0), lam)


def ease_viewer_scorer(split: Split, weights: Matrix) -> Scorer:
    """A logged-in viewer's scores ``x_u B`` from their own training history."""
    scores = viewed(split) @ weights

    def score(users: IntArray) -> Matrix:
        return np.asarray(scores[users], dtype=np.float64)

    return score


def chosen_lambda(
    tuning: Split, partition: Partition, lambdas: Sequence[float] = EASE_LAMBDAS
) -> float:
    """The ``lam`` of the best validation NDCG@10 on ``tuning`` (the leave-last-out view)."""
    return max(
        lambdas,
        key=lambda lam: evaluate(
            ease_viewer_scorer(tuning, federated_ease(tuning, partition, lam)),
            tuning,
            stage="valid",
        )["ndcg@10"],
    )
