"""The DP-ALS simulation: instances, committee and public solve in one process.

Per round every instance calls :func:`~mpcrec.model.dpals.solve_users`,
:func:`~mpcrec.model.dpals.bound_users` and :func:`~mpcrec.model.dpals.local_statistics` on
its own users; the sum over instances gets :func:`~mpcrec.model.dpals.add_noise` (what the
committee does inside MPC) and :func:`~mpcrec.model.dpals.solve_items` gives the public item
factors. After the last round every instance solves its users once more (free: nothing is
released). With ``tail_exponent > 0`` or ``head_items`` a first release publishes noisy
item counts (from its own random stream, so the rounds' noise is paired across settings);
with ``head_items`` only the top of those counts is trained and served (the other rows are
0: they rank after every item of positive score).

Privacy (user level, replace-one, every user in every round: sampling rate 1): the releases
are Gaussian mechanisms of noise multipliers ``z_count`` (once) and ``z`` (every round);
:class:`Privacy` carries them and the ε they spend, computed by
:func:`mpcrec.privacy.joint.split_budget` (the bench calls it: the model layer does not
import the privacy layer).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from mpcrec.data.interactions import IntArray
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.errors import ConfigError
from mpcrec.model.content import featurise
from mpcrec.model.content_sources import movielens_fields
from mpcrec.model.dpals import (
    ALSConfig,
    add_noise,
    block_sigmas,
    bound_users,
    confidences,
    cut_tail,
    dense,
    local_statistics,
    smooth_items,
    solve_items,
    solve_users,
    statistic_weights,
    top_items,
    unpack,
)
from mpcrec.model.local import InstanceData
from mpcrec.model.mf import Matrix


@dataclass(frozen=True)
class Privacy:
    """The noise of a DP-ALS run and the ε it spends (``inf``: no noise)."""

    round_multiplier: float
    count_multiplier: float
    epsilon: float

    @classmethod
    def none(cls) -> Privacy:
        """No noise at all (ε = inf)."""
        return cls(0.0, 0.0, math.inf)


@dataclass
class DPALSModel:
    """Public item factors, every user's factor (simulation view) and the privacy spent."""

    user_factors: Matrix
    item_factors: Matrix
    counts: Matrix | None
    privacy: Privacy
    popularity: Matrix | None = None

    def scores(self, users: IntArray) -> Matrix:
        """``U[users] @ V^T`` (plus the popularity term, if any)."""
        out = self.user_factors[users] @ self.item_factors.T
        if self.popularity is not None:
            out = out + self.popularity
        return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True)
class Home:
    """One instance's data as the DP-ALS round needs it (dense over the catalogue)."""

    global_users: IntArray
    conf: Matrix
    events: tuple[IntArray, IntArray, IntArray]

    @classmethod
    def create(cls, split: Split, members: IntArray, config: ALSConfig) -> Home:
        """The confidences of ``members``' training events (recency-shaped)."""
        data = InstanceData.from_split(split, members)
        assert data.ages is not None
        shape = (data.n_users, split.n_items)
        conf = dense(data.users, data.items, confidences(data.ages, config), shape)
        return cls(data.global_users, conf, (data.users, data.items, data.ages))

    def weights(self, config: ALSConfig, counts: Matrix | None) -> Matrix:
        """Dense statistic weights (unit L2 per user) from public ``counts``."""
        users, items, ages = self.events
        n = self.global_users.shape[0]
        w = statistic_weights(users, items, ages, n, config, counts)
        return dense(users, items, w, self.conf.shape)


def metadata_items(split: Split, dim: int, scale: float, *, words: bool = False) -> Matrix:
    """Item factors from public metadata alone: the top ``dim`` principal directions.

    Of :func:`metadata_features` (centred); rows scaled so their mean norm is ``scale``.
    Directions beyond the features' rank are 0.
    """
    return principal_rows(metadata_features(split, words=words), dim, scale)


def metadata_features(split: Split, *, words: bool = False) -> Matrix:
    """Public feature rows of the items, shape ``(n_items, n_features)``.

    One column per tag (1 if the item has it) and the standardised publication time; with
    ``words``, also the hashed bag of every public field
    (:func:`~mpcrec.model.content.featurise`: tags, title words, year and decade) times
    ``sqrt(2)`` (a row of norm about that of the tags).
    """
    meta = split.train.item_meta
    if meta is None:
        raise ConfigError(
            "DP-ALS init='metadata' needs item metadata (tags, publication time)",
            hint="use init='random' for interactions without metadata",
        )
    vocab = sorted({tag for m in meta for tag in m.tags})
    column = {tag: k for k, tag in enumerate(vocab)}
    features = np.zeros((split.n_items, len(vocab) + 1))
    for item, m in enumerate(meta):
        features[item, [column[t] for t in m.tags]] = 1.0
    published = np.array([m.published for m in meta], dtype=np.float64)
    published = np.nan_to_num(published, nan=float(np.nanmean(published)))
    features[:, -1] = (published - published.mean()) / max(float(published.std()), 1e-12)
    if words:
        bag = featurise(movielens_fields(meta))
        features = np.concatenate([features, np.sqrt(2.0) * bag], axis=1)
    return features


def principal_rows(features: Matrix, dim: int, scale: float) -> Matrix:
    """The centred ``features`` projected on their top ``dim`` principal directions.

    Rows scaled so their mean norm is ``scale``; directions beyond the rank are 0.
    """
    centred = features - features.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    items = np.zeros((features.shape[0], dim))
    k = min(dim, directions.shape[0])
    items[:, :k] = centred @ directions[:k].T
    mean_norm = float(np.linalg.norm(items, axis=1).mean())
    return np.asarray(items * scale / max(mean_norm, 1e-12), dtype=np.float64)


def noisy_counts(
    homes: list[Home], config: ALSConfig, privacy: Privacy, rng: np.random.Generator
) -> Matrix:
    """Item counts released once: each user adds ``1/sqrt(k)`` to each of its ``k`` items."""
    total = np.zeros(homes[0].conf.shape[1])
    flat = replace(config, tail_exponent=0.0, recency_boost=0.0)
    for home in homes:
        total += home.weights(flat, None).sum(axis=0)
    sigma = 2.0 * privacy.count_multiplier  # replace-one: a user's vector has norm <= 1
    return np.asarray(total + rng.normal(0.0, sigma, size=total.shape), dtype=np.float64)


def post_process(
    items: Matrix, mass: Matrix, counts: Matrix | None, split: Split, config: ALSConfig
) -> Matrix:
    """The last release's item factors as published (public post-processing, no cost).

    With ``head_items``, the items outside the top of the released ``counts`` get no weight
    in the smoothing's fit and a zero row (untrained: not served); then the metadata
    smoothing (``smoothing``) and the ``tail_cut`` by the released masses.
    """
    head = (
        top_items(counts, config.head_items) if config.head_items and counts is not None else None
    )
    if head is not None:
        mass = np.where(head, mass, 0.0)
    if config.smoothing:
        features = metadata_features(split, words=config.smoothing_words)
        items = smooth_items(
            items, mass, features, strength=config.smoothing, lam=config.smoothing_reg
        )
    if head is not None:
        items = np.where(head[:, None], items, 0.0)
    return cut_tail(items, mass, config.tail_cut)


def train_dpals(
    split: Split,
    partition: Partition,
    config: ALSConfig,
    *,
    privacy: Privacy,
    seed: int,
    on_round: Callable[[int], None] | None = None,
    initial_items: Matrix | None = None,
) -> DPALSModel:
    """Run DP-ALS at ``privacy``'s noise (``Privacy.none()``: the same without noise).

    ``initial_items`` (public, e.g. from video metadata) replaces the random start.
    """
    rng = np.random.default_rng(seed)
    homes = [Home.create(split, partition.members(k), config) for k in range(partition.n_instances)]
    counts = None
    if config.releases_counts:  # its own stream: the rounds' noise stays paired across settings
        counts = noisy_counts(homes, config, privacy, np.random.default_rng([seed, 1]))
    weights = [home.weights(config, counts) for home in homes]
    sigmas = block_sigmas(privacy.round_multiplier, config)
    items = rng.normal(0.0, config.init_std, size=(split.n_items, config.dim))
    if config.init in ("metadata", "content"):
        words = config.init == "content"
        items = metadata_items(split, config.dim, config.init_std, words=words)
    if initial_items is not None:
        items = np.asarray(initial_items, dtype=np.float64)
    start = items
    mass = None
    for r in range(config.iterations):
        total = sum(
            local_statistics(
                bound_users(solve_users(items, home.conf, config), config.user_norm), w, config
            )
            for home, w in zip(homes, weights, strict=True)
        )
        noisy = add_noise(np.asarray(total), sigmas, config, rng)
        items = solve_items(noisy, split.n_users, config, prior=start)
        mass = unpack(noisy, config).get("mass")
        if on_round is not None:
            on_round(r + 1)
    if mass is not None:
        items = post_process(items, mass, counts, split, config)
    users = np.zeros((split.n_users, config.dim))
    for home in homes:
        users[home.global_users] = solve_users(items, home.conf, config)
    popularity = None
    if config.popularity_weight and mass is not None:
        popularity = config.popularity_weight * mass / max(float(np.max(mass)), 1e-12)
    return DPALSModel(users, items, counts, privacy, popularity)
