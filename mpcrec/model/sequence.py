"""Order-aware pieces: every user's history in time order, and first-order transitions.

A user's history is their training events ordered by time, ties in row order (the order
:func:`~mpcrec.data.split.leave_last_out` uses), so the last element is the user's
"current video". :func:`transitions_scorer` is the simplest sequence-aware recommender:
the items that most often came right after the viewer's current item, over all users'
histories, with a popularity back-off for what the counts do not separate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mpcrec.data.interactions import IntArray, Interactions
from mpcrec.data.split import Split
from mpcrec.model.metrics import Scorer, Scores, evaluate

TRANSITION_SMOOTHING = (1.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0)


def histories(train: Interactions) -> list[IntArray]:
    """Every user's training items in time order (ties in row order), one array per user."""
    order = np.lexsort((np.arange(len(train)), train.timestamps, train.users))
    ends = np.cumsum(train.counts_per_user())
    return [np.asarray(h, dtype=np.int64) for h in np.split(train.items[order], ends[:-1])]


@dataclass(frozen=True)
class Transitions:
    """Counts of "item ``b`` right after item ``a``" in one user's history, row-compressed.

    Row ``a``'s successors are ``successor[start[a]:start[a + 1]]`` with counts
    ``count[start[a]:start[a + 1]]``.
    """

    start: IntArray
    successor: IntArray
    count: Scores

    @classmethod
    def count_in(cls, train: Interactions) -> Transitions:
        """The first-order transitions of every user's history in ``train``."""
        n = train.n_items
        pairs = [h[:-1] * n + h[1:] for h in histories(train) if h.shape[0] > 1]
        keys, counts = np.unique(
            np.concatenate([np.zeros(0, np.int64), *pairs]), return_counts=True
        )
        start = np.zeros(n + 1, dtype=np.int64)
        start[1:] = np.cumsum(np.bincount(keys // n, minlength=n))
        return cls(start=start, successor=keys % n, count=counts.astype(np.float64))

    def row(self, item: int) -> tuple[IntArray, Scores]:
        """Successors of ``item`` and how often each followed it."""
        lo, hi = int(self.start[item]), int(self.start[item + 1])
        return self.successor[lo:hi], self.count[lo:hi]


def transitions_scorer(
    split: Split, *, seed: int, smoothing: float | None = None, tune_on: Split | None = None
) -> Scorer:
    """Score ``count(current -> b) + smoothing * share(b)`` for the viewer's current item.

    ``share`` is ``b``'s fraction of all training events (the popularity back-off; the
    per-row normalisation of a smoothed estimate does not change a user's ranking), ties
    broken by a seeded random order. With ``smoothing=None`` it is chosen from
    :data:`TRANSITION_SMOOTHING` by validation NDCG@10 on ``tune_on`` (default ``split``).
    """
    if smoothing is None:
        tuning = split if tune_on is None else tune_on
        smoothing = max(
            TRANSITION_SMOOTHING,
            key=lambda c: evaluate(
                transitions_scorer(tuning, seed=seed, smoothing=c), tuning, stage="valid"
            )["ndcg@10"],
        )
    return _fit(split, seed, smoothing)


def _fit(split: Split, seed: int, smoothing: float) -> Scorer:
    """The transition scorer with a fixed popularity weight ``smoothing``."""
    train = split.train
    transitions = Transitions.count_in(train)
    share = np.bincount(train.items, minlength=split.n_items) / max(len(train), 1)
    jitter = np.random.default_rng(seed).random(split.n_items) * 1e-9
    prior = smoothing * share + jitter
    current = np.array([h[-1] for h in histories(train)], dtype=np.int64)

    def score(users: IntArray) -> Scores:
        out = np.tile(prior, (users.shape[0], 1))
        for k, user in enumerate(users):
            successors, counts = transitions.row(int(current[user]))
            out[k, successors] += counts
        return out

    return score
