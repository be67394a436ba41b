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
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from mpcrec.data.interactions import IntArray
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.errors import ConfigError, DataError
from mpcrec.model.baselines import EASE_LAMBDAS
from mpcrec.model.metrics import Scorer, evaluate
from mpcrec.model.mf import Matrix
from mpcrec.model.sequence import histories


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


#: The most values one secure round of the Gram release sums (issue 16: a round at
#: 1,415,403 values took 4.2 s quiet; about a quarter of it keeps a slice under 2 s).
MAX_SLICE_VALUES = 450_000

#: The committee's norm bound on one instance's slice, in co-view counts: the largest
#: instance's whole upper triangle on ML-100k in 20 instances has norm about 8,663 (the
#: full Gram), so 2**14 leaves room for twice that and rejects any inflated slice beyond.
CLIP_COUNTS = 16_384.0


@dataclass(frozen=True)
class EaseConfig:
    """A ``seqrec`` federation's EASE term (``ease:`` in federation.yaml).

    Attributes
    ----------
    lam:
        EASE's ridge ``lambda`` (:func:`ease_weights`; 100 chosen on validation, ML-100k).
    weight:
        EASE's share of the standardised scores of a logged-in viewer (``seqrec`` has the
        rest: :func:`mpcrec.model.seq_ensemble.mixed`).
    anonymous_weight:
        The same share for an anonymous viewer (``e_v B``, the current video alone). 0 by
        default: on validation (the demo's 25 rounds, seed 0) every share above 0 lowers
        the anonymous viewer's NDCG@10 (0.0965 at 0, 0.0925 at 0.2, 0.0691 at 0.9;
        benchmarks/ease_anonymous_share.py), as the simulation's ``seq_fed_ease`` serves
        anonymous viewers ``seqrec`` alone; logged-in: 0.0991 at 0, 0.1168 at 0.2.
    slice_values:
        The most upper-triangle values one secure round releases.
    clip_counts:
        The committee's L2 bound on one instance's slice, in counts.
    """

    lam: float = 100.0
    weight: float = 0.2
    anonymous_weight: float = 0.0
    slice_values: int = MAX_SLICE_VALUES
    clip_counts: float = CLIP_COUNTS

    def __post_init__(self) -> None:
        if not (np.isfinite(self.lam) and self.lam > 0):
            raise ConfigError(f"ease lambda {self.lam:g} must be a finite number > 0")
        for name in ("weight", "anonymous_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"ease {name} {getattr(self, name):g} must be in [0, 1]")
        if not 1 <= self.slice_values <= MAX_SLICE_VALUES:
            raise ConfigError(
                f"ease slice_values {self.slice_values} must be in [1, {MAX_SLICE_VALUES}]",
                hint="a secure round of more values takes over 2 s (docs/secure-round.md)",
            )
        if not (np.isfinite(self.clip_counts) and self.clip_counts >= 1):
            raise ConfigError(f"ease clip_counts {self.clip_counts:g} must be a count >= 1")

    def mix(self, *, anonymous: bool = False) -> tuple[float, float]:
        """``(seqrec's, EASE's)`` weights for a logged-in (or an anonymous) viewer."""
        share = self.anonymous_weight if anonymous else self.weight
        return 1.0 - share, share


def triangle_size(n_items: int) -> int:
    """Values of the upper triangle of an ``n_items`` Gram, diagonal included."""
    return n_items * (n_items + 1) // 2


def gram_slices(n_items: int, max_values: int = MAX_SLICE_VALUES) -> list[slice]:
    """The release's slices of the upper triangle: ``ceil(T / max_values)`` slices as
    equal as possible, in order (``T`` = :func:`triangle_size`)."""
    total = triangle_size(n_items)
    count = -(-total // max_values)
    bounds = np.linspace(0, total, count + 1).round().astype(np.int64)
    return [slice(int(a), int(b)) for a, b in pairwise(bounds.tolist())]


def home_counts(rows: Matrix, users: IntArray) -> IntArray:
    """The instance's co-view counts ``X_k^T X_k`` (int64) of its users ``users``."""
    x = np.asarray(rows[users] > 0, dtype=np.int64)
    return np.asarray(x.T @ x, dtype=np.int64)


def triangle(gram: npt.ArrayLike) -> IntArray:
    """The upper triangle of a symmetric Gram, diagonal included, row by row."""
    g = np.asarray(gram)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise DataError(f"a Gram matrix of shape {g.shape} is not square")
    return np.asarray(g[np.triu_indices(g.shape[0])], dtype=np.int64)


def from_triangle(values: npt.ArrayLike, n_items: int) -> IntArray:
    """The symmetric ``n_items`` Gram whose upper triangle is ``values``."""
    v = np.asarray(values, dtype=np.int64)
    if v.shape != (triangle_size(n_items),):
        raise DataError(
            f"{v.shape} values are not the upper triangle of {n_items} items "
            f"({triangle_size(n_items)})"
        )
    g = np.zeros((n_items, n_items), np.int64)
    g[np.triu_indices(n_items)] = v
    return np.asarray(g + np.triu(g, 1).T, dtype=np.int64)


def ease_anonymous_scorer(split: Split, weights: Matrix) -> Scorer:
    """An anonymous viewer's EASE scores ``e_v B``: the row of their current (latest) video."""
    current = np.array([h[-1] for h in histories(split.train)], dtype=np.int64)

    def score(users: IntArray) -> Matrix:
        return np.asarray(weights[current[users]], dtype=np.float64)

    return score


def capped_rows(split: Split, max_items: int) -> Matrix:
    """Every user's binary training row over their ``max_items`` most recent items only:
    the per-user bound of the Gram release under user-level DP (one user then adds at most
    :func:`user_sensitivity` to the triangle, in L2)."""
    if max_items < 1:
        raise ConfigError(f"max_items {max_items} must be >= 1")
    x = np.zeros((split.n_users, split.n_items), dtype=np.float64)
    for user, history in enumerate(histories(split.train)):
        x[user, history[-max_items:]] = 1.0
    return x


def user_sensitivity(max_items: int) -> float:
    """The L2 norm of one user's upper triangle of ``x_u x_u^T`` at ``max_items`` items:
    ``sqrt(m (m + 1) / 2)`` (add or remove one user)."""
    return float(np.sqrt(max_items * (max_items + 1) / 2.0))
