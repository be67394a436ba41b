"""What a PeerTube admin would compare with: random, popularity, PeerTube today, EASE.

Every baseline is fitted on the training events of a :class:`~mpcrec.data.split.Split`
and returns a :data:`~mpcrec.model.metrics.Scorer`. Scorers are tie-free (ties broken by
a seeded random order), since the metrics count ties against the held-out item.
"""

from __future__ import annotations

import numpy as np

from mpcrec.data.interactions import IntArray
from mpcrec.data.split import Split
from mpcrec.model.metrics import Scorer, Scores, evaluate

EASE_LAMBDAS = (50.0, 100.0, 200.0, 500.0, 1000.0)
EASE_MAX_ITEMS = 20_000  # a dense n_items x n_items inverse beyond this is impractical


def random_scorer(split: Split, *, seed: int) -> Scorer:
    """Uniformly random scores (a fresh draw per call, from one seeded generator)."""
    rng = np.random.default_rng(seed)

    def score(users: IntArray) -> Scores:
        return rng.random((users.shape[0], split.n_items))

    return score


def item_counts(split: Split) -> Scores:
    """Training events per item (weights summed)."""
    train = split.train
    counts = np.bincount(train.items, weights=train.weights, minlength=split.n_items)
    return np.asarray(counts, dtype=np.float64)


def popularity_scorer(split: Split, *, seed: int) -> Scorer:
    """Most-watched items first (training counts; seeded ties)."""
    jitter = np.random.default_rng(seed).random(split.n_items)
    ranked = _rank(item_counts(split), jitter)

    def score(users: IntArray) -> Scores:
        return np.broadcast_to(ranked, (users.shape[0], split.n_items))

    return score


def last_items(split: Split) -> IntArray:
    """Every user's latest training item (time, then row order): their "current video"."""
    train = split.train
    order = np.lexsort((np.arange(len(train)), train.timestamps, train.users))
    ends = np.cumsum(train.counts_per_user()) - 1
    return train.items[order[ends]]


def peertube_today_scorer(split: Split, *, seed: int) -> Scorer:
    """PeerTube's related videos for the user's current (latest training) video.

    PeerTube (``recent-videos-recommendation.service.ts``) lists videos sharing any tag with
    the current one, newest first, hides those already watched and falls back to the newest
    videos. Here tags are item tags (MovieLens genres) and publication time is
    ``ItemMeta.published`` (release year); without metadata, an item has no tags and is
    "published" at its first training event. Every tag-sharing item ranks above every other;
    within each group newer first, equal times in a seeded random order. Watched items are
    excluded by the evaluation itself.
    """
    train = split.train
    jitter = np.random.default_rng(seed).random(split.n_items)
    if train.item_meta is not None:
        published = np.array([m.published for m in train.item_meta], dtype=np.float64)
        vocab = sorted({tag for m in train.item_meta for tag in m.tags})
        column = {tag: k for k, tag in enumerate(vocab)}
        tags = np.zeros((split.n_items, len(vocab)), dtype=np.float64)
        for item, meta in enumerate(train.item_meta):
            tags[item, [column[t] for t in meta.tags]] = 1.0
    else:
        published = np.full(split.n_items, -np.inf)
        np.minimum.at(published, train.items, train.timestamps)
        tags = np.zeros((split.n_items, 0), dtype=np.float64)
    newest = _rank(published, jitter)  # 0..n_items-1, higher = newer
    current = last_items(split)

    def score(users: IntArray) -> Scores:
        shares = (tags[current[users]] @ tags.T) > 0
        return np.asarray(shares * float(split.n_items) + newest, dtype=np.float64)

    return score


def ease_scorer(split: Split, *, lam: float | None = None, tune_on: Split | None = None) -> Scorer:
    """EASE (Steck, WWW 2019): closed-form item-item model ``B = I - P / diag(P)``.

    ``P = (X^T X + lam I)^-1`` on the binary training matrix ``X`` of ``split``. With
    ``lam=None``, ``lam`` is chosen from :data:`EASE_LAMBDAS` by validation NDCG@10 on
    ``tune_on`` (default ``split``; give the leave-last-out view when ``split`` is a
    whole-past one).

    Raises
    ------
    ValueError
        If the catalogue is larger than :data:`EASE_MAX_ITEMS`.
    """
    if split.n_items > EASE_MAX_ITEMS:
        raise ValueError(f"EASE needs a dense {split.n_items}^2 inverse: too large")
    if lam is None:
        tuning = split if tune_on is None else tune_on
        lam = max(
            EASE_LAMBDAS,
            key=lambda c: evaluate(_ease_fit(tuning, c), tuning, stage="valid")["ndcg@10"],
        )
    return _ease_fit(split, lam)


def _ease_fit(split: Split, lam: float) -> Scorer:
    """EASE with regularisation ``lam`` fitted on ``split.train``."""
    x = np.zeros((split.n_users, split.n_items), dtype=np.float64)
    x[split.train.users, split.train.items] = 1.0
    p = np.linalg.inv(x.T @ x + lam * np.eye(split.n_items))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    scores = x @ b

    def score(users: IntArray) -> Scores:
        return np.asarray(scores[users], dtype=np.float64)

    return score


def _rank(values: Scores, jitter: Scores) -> Scores:
    """Dense ranks 0..n-1 of ``values`` (ascending), ties broken by ``jitter``."""
    order = np.lexsort((jitter, values))
    ranks = np.empty(values.shape[0], dtype=np.float64)
    ranks[order] = np.arange(values.shape[0], dtype=np.float64)
    return ranks
