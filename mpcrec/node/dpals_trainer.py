"""A simulated MovieLens-100k instance that trains DP-ALS (model kind ``dpals``).

In the count release (the first round, when the round parameters have a
``count_noise_multiplier``: :mod:`mpcrec.model.dpals_counts`) the instance contributes its
users' item counts. Every other round it solves its users' factors exactly at home from the
published item factors, bounds them, and contributes ONE vector: its users' sufficient
statistics (over the head the published model carries, if any; the users solved from the
public start of the count release, over the whole catalogue) and their count, scaled so
that the committee's user-level Gaussian gives every block its share of the budget
(:func:`mpcrec.model.dpals_release.instance_release`). At user level every user is in (rate
1: the bound is deterministic) unless the round's ``user_rate`` is below 1, when each user
is drawn with that rate from fresh OS entropy (:func:`mpcrec.node.user_dp.fresh_rng`). The
user factors never leave the instance: what it serves is solved again from the newest
published model (:meth:`MovieLensDPALSTrainer.home_users`). As a committee member it gives
the public metadata features the settings' smoothing reads
(:meth:`MovieLensDPALSTrainer.item_features`: ML-100k's genres and year, the same file at
every node).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import partition_users
from mpcrec.data.split import leave_last_out
from mpcrec.federation.round_params import RoundParams
from mpcrec.model.dpals import bound_users, solve_users
from mpcrec.model.dpals_counts import count_release, count_weights, head_weights, published_head
from mpcrec.model.dpals_release import instance_release, release_size, runtime_config
from mpcrec.model.dpals_train import Home, metadata_features
from mpcrec.model.tuned_dpals import ALS_DP_ONE_RELEASE
from mpcrec.node.aggregation.dpals_step import DPALS, release_clip_norm
from mpcrec.node.recommender import ModelSnapshot
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.trainer import Matrix
from mpcrec.node.user_dp import fresh_rng

if TYPE_CHECKING:
    from mpcrec.node.config import MovieLensTrainerConfig

RULE = "model-kind"


class MovieLensDPALSTrainer:
    """DP-ALS at home for shard ``index`` of ``instances`` of ML-100k (partition ``seed``)."""

    model_kind = DPALS

    def __init__(self, index: int, instances: int, seed: int) -> None:
        data = load_movielens_100k()
        split = leave_last_out(data)
        members = partition_users(data, instances, seed=seed).members(index)
        config = runtime_config(ALS_DP_ONE_RELEASE.dim)
        self.home = Home.create(split, members, config)
        self.weights = self.home.weights(config, None)  # unit L2 per user; no counts
        self.counts = count_weights(self.home, config)  # 1/sqrt(k) on each of k items
        self.item_ids = split.train.item_ids
        self.user_ids = split.train.user_ids
        self.events = split.train
        self._features = metadata_features(split, words=config.smoothing_words)
        #: The public start (model version 0) seen in the count release: the statistics
        #: round solves the users from it over the whole catalogue, as the simulation does
        #: (the published head model keeps only the head's rows).
        self.start: Matrix | None = None

    @classmethod
    def from_config(
        cls, config: MovieLensTrainerConfig, *, state_dir: Path
    ) -> MovieLensDPALSTrainer:
        """The trainer a ``kind: movielens, model: dpals`` trainer section names."""
        return cls(config.index, config.instances, config.seed)

    @property
    def catalogue_rows(self) -> int:
        """The items this instance's users rate (ML-100k's): the only rows it can train."""
        return int(self.home.conf.shape[1])

    def item_features(self, n_items: int) -> Matrix:
        """The public metadata features of the catalogue's first ``n_items`` items (the
        simulation's :func:`~mpcrec.model.dpals_train.metadata_features`)."""
        if n_items != self._features.shape[0]:
            raise RoundRefused(
                RULE,
                f"the round has {n_items} items, this trainer's catalogue "
                f"{self._features.shape[0]}",
            )
        return self._features

    def update(self, model: Matrix, version: int) -> tuple[Matrix, float]:
        """An ``mf`` round: this trainer cannot train it (rule ``model-kind``)."""
        raise RoundRefused(RULE, "the round trains mf, this node's trainer trains dpals")

    def home_users(self, model: Matrix, rows: np.ndarray | None = None) -> Matrix:
        """The exact user factors of this instance's users (or ``rows`` of them) from the
        public item factors ``model``."""
        conf = self.home.conf if rows is None else self.home.conf[rows]
        return solve_users(model, conf, runtime_config(model.shape[1]))

    def release(self, model: Matrix, params: RoundParams, version: int = -1) -> Matrix:
        """This round's contribution from the published item factors ``model`` (version
        ``version``): the users' counts in the count release (the round on the initial
        model, :meth:`RoundParams.counts_round`), else their statistics, over the head the
        model carries when the federation released counts."""
        counts = bool(params.count_noise_multiplier)
        config = runtime_config(model.shape[1], counts)
        n = self.home.conf.shape[0]
        rows = np.arange(n)
        if params.user_level and params.user_rate < 1.0:
            rows = np.flatnonzero(fresh_rng().random(n) < params.user_rate)
        clip = release_clip_norm(params)
        if params.counts_round(version):
            self.start = np.array(model, dtype=np.float64)
            size = release_size(model.shape[0], model.shape[1])
            return count_release(self.counts[rows], clip, size)
        weights = self.weights[rows]
        solve_from = model
        if counts:
            weights = head_weights(weights, published_head(model))
            if self.start is not None and self.start.shape == np.shape(model):
                solve_from = self.start  # else (restarted since): from the head model
        bounded = bound_users(self.home_users(solve_from, rows), config.user_norm)
        return instance_release(bounded, weights, config, clip)

    def snapshot(self, model: Matrix, version: int) -> ModelSnapshot:
        """What this instance serves its users from model ``version`` (``mpcrec serve``)."""
        users = self.home.global_users
        local, items, _ = self.home.events
        seen: dict[int, list[str]] = {}
        for user, item in zip(local, items, strict=True):
            seen.setdefault(int(self.user_ids[users[user]]), []).append(self.item_ids[item])
        factors = self.home_users(model)
        return ModelSnapshot.build(
            version=f"v{version}",
            item_urls=self.item_ids,
            item_uuids=self.item_ids,
            item_embeddings=model,
            user_embeddings={int(self.user_ids[g]): factors[k] for k, g in enumerate(users)},
            popularity=np.bincount(items, minlength=model.shape[0]),
            local_users=[int(self.user_ids[g]) for g in users],
            seen=seen,
        )
