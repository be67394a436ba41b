"""A simulated instance on MovieLens-100k: one shard of users, trained at home (``mpcrec demo``).

The shard is the instance's part of a deterministic partition of ML-100k's users
(:func:`mpcrec.data.partition.partition_users`, non-IID by zip code); training is
:func:`mpcrec.model.local.local_update` with the quality benchmark's FedAvg settings, so a
federation of these trainers is the same computation as
:func:`mpcrec.model.fedavg.train_fedavg`. The user embeddings stay in this process; they are
written (atomically) only to the node's own state directory, where the demo's evaluation
reads them as the simulation-only view of :meth:`mpcrec.model.fedavg.Federation.assembled`.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import partition_users
from mpcrec.data.split import Split, leave_last_out
from mpcrec.files import write_atomic
from mpcrec.model.local import InstanceData, local_update
from mpcrec.model.mf import Factors, init_factors
from mpcrec.model.tuned import FEDAVG
from mpcrec.node.recommender import ModelSnapshot
from mpcrec.node.trainer import Matrix
from mpcrec.node.user_dp import user_local

if TYPE_CHECKING:
    from mpcrec.node.config import MovieLensTrainerConfig

USER_FILE = "user_emb.npz"


def movielens_setting(n_instances: int, seed: int) -> tuple[Split, Factors, list[np.ndarray]]:
    """The split, the initial factors (as central training draws them) and each shard's users."""
    data = load_movielens_100k()
    split = leave_last_out(data)
    partition = partition_users(data, n_instances, seed=seed)
    factors = init_factors(
        split.n_users, split.n_items, FEDAVG.local.mf, np.random.default_rng(seed)
    )
    return split, factors, [partition.members(k) for k in range(partition.n_instances)]


class MovieLensTrainer:
    """Local training of instance ``index`` of ``instances`` on ML-100k.

    Parameters
    ----------
    index, instances, seed:
        Which shard of which partition (seed shared by the whole federation).
    rounds:
        The run's length (the local learning rate decays linearly over it).
    state_dir:
        Where the user embeddings are kept between rounds.
    """

    def __init__(self, index: int, instances: int, seed: int, rounds: int, state_dir: Path) -> None:
        split, factors, shards = movielens_setting(instances, seed)
        self.split = split
        self.item_ids = split.train.item_ids
        self.user_ids = split.train.user_ids
        self.data = InstanceData.from_split(split, shards[index])
        self.user_emb = factors.user_emb[self.data.global_users].copy()
        self.rounds = rounds
        self.rng = np.random.default_rng([seed, index])
        self.path = Path(state_dir) / USER_FILE

    @classmethod
    def from_config(cls, config: MovieLensTrainerConfig, *, state_dir: Path) -> MovieLensTrainer:
        """The trainer a ``kind: movielens`` trainer section names."""
        return cls(config.index, config.instances, config.seed, config.rounds, state_dir=state_dir)

    def update(self, model: Matrix, version: int) -> tuple[Matrix, float]:
        """One round of local training from model ``version``; weight = training events."""
        step = min(version, self.rounds - 1)
        local = dataclasses.replace(FEDAVG.local, mf=FEDAVG.local.mf.at(step, self.rounds))
        result = local_update(model, self.data, self.user_emb, local, self.rng)
        self.user_emb = result.user_emb
        self._save()
        return result.delta.reshape(model.shape), float(self.data.n_events)

    def update_user_level(
        self,
        model: Matrix,
        version: int,
        *,
        user_rate: float,
        user_clip_norm: float,
        rng: np.random.Generator,
    ) -> Matrix:
        """One user-level round (:mod:`mpcrec.node.user_dp`): users drawn with ``user_rate``
        from ``rng``, each one's delta clipped to ``user_clip_norm``, summed; the local
        settings of the quality benchmark's ``fedavg_dp``."""
        result = local_update(
            model,
            self.data,
            self.user_emb,
            user_local(version, self.rounds, user_rate, user_clip_norm),
            rng,
        )
        self.user_emb = result.user_emb
        self._save()
        return result.delta.reshape(model.shape)

    def snapshot(self, model: Matrix, version: int) -> ModelSnapshot:
        """What this instance serves its users from model ``version`` (``mpcrec serve``)."""
        users = self.data.global_users
        seen: dict[int, list[str]] = {}
        for user, item in zip(self.data.users, self.data.items, strict=True):
            seen.setdefault(int(self.user_ids[users[user]]), []).append(self.item_ids[item])
        return ModelSnapshot.build(
            version=f"v{version}",
            item_urls=self.item_ids,
            item_uuids=self.item_ids,
            item_embeddings=model,
            user_embeddings={int(self.user_ids[g]): self.user_emb[k] for k, g in enumerate(users)},
            popularity=np.bincount(self.data.items, minlength=model.shape[0]),
            local_users=[int(self.user_ids[g]) for g in users],
            seen=seen,
        )

    def _save(self) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, users=self.data.global_users, emb=self.user_emb)
        write_atomic(self.path, buffer.getvalue())  # 0600: the embeddings are users' data
