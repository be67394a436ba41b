"""A simulated instance on MovieLens-100k training the order-aware model ``seqrec`` at home.

The federation's model of kind ``seqrec`` (:mod:`mpcrec.model.seqrec`) is two global
matrices, context embeddings ``E`` and item embeddings ``V``, both ``(n_items, d)``. The
runtime carries them as ONE ``(n_items, 2 d)`` matrix whose row ``k`` is ``[E_k | V_k]``
(:func:`to_matrix`, :func:`to_model`): a row is still one catalogue video, so the launcher,
the committee's program and the server step see a wider model and nothing else (FedAvg's
weighted mean is coordinate-wise, so the layout does not change it).

:class:`SeqrecTrainer` is shard ``index`` of the deterministic partition the quality
benchmark uses; each round it trains a copy of the global ``(E, V)`` on its own users'
examples with :func:`~mpcrec.model.seqrec.seq_epoch` for the local epochs of
:data:`~mpcrec.model.tuned_sequence.SEQ_RUNTIME` (``SEQ_FED_HARD``; the learning rate
decaying linearly over the run's rounds) and returns the delta with its example count as
the public weight: a federation of these trainers is the computation of
:func:`~mpcrec.model.seqrec.train_seq_fedavg` (the plaintext twin,
tests/node/test_seqrec_twin.py). No per-user parameter exists: what the instance serves
(:meth:`SeqrecTrainer.snapshot`) is each local user's recent items, kept at home.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import partition_users
from mpcrec.data.split import Split, leave_last_out
from mpcrec.model.item_gram import EaseConfig, home_counts, triangle, viewed
from mpcrec.model.seqrec import Contexts, SeqConfig, SeqModel, seq_epoch
from mpcrec.model.sequence import histories
from mpcrec.model.server import clip_to_norm
from mpcrec.model.tuned_sequence import SEQ_RUNTIME
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.seqrec_serving import SeqSnapshot
from mpcrec.node.trainer import Matrix

if TYPE_CHECKING:
    from mpcrec.node.config import MovieLensTrainerConfig

MODEL_KIND = "seqrec"


def to_matrix(model: SeqModel) -> Matrix:
    """``[E | V]``: the ``(n_items, 2 d)`` matrix the federation aggregates."""
    return np.hstack([model.context_emb, model.item_emb])


def to_model(matrix: Matrix, config: SeqConfig) -> SeqModel:
    """The :class:`~mpcrec.model.seqrec.SeqModel` a ``[E | V]`` matrix holds (copies)."""
    if matrix.ndim != 2 or matrix.shape[1] != 2 * config.dim:
        raise RoundRefused(
            "model-kind",
            f"a model of shape {matrix.shape} is not seqrec's [E | V] of dim {config.dim}",
            hint=f"federation.yaml's model.dim must be {2 * config.dim} for seqrec",
        )
    d = config.dim
    return SeqModel(
        context_emb=matrix[:, :d].astype(np.float64, copy=True),
        item_emb=matrix[:, d:].astype(np.float64, copy=True),
        config=config,
    )


def initial_matrix(n_items: int, seed: int, config: SeqConfig = SEQ_RUNTIME) -> Matrix:
    """The initial model as :func:`~mpcrec.model.seqrec.train_seq_fedavg` draws it."""
    return to_matrix(SeqModel.init(n_items, config, np.random.default_rng(seed)))


def item_uuids(item_ids: tuple[str, ...]) -> list[str]:
    """A UUID per simulated video (PeerTube names videos by UUID: the API's ``videoId``)."""
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"mpcrec-movielens:{i}")) for i in item_ids]


def subset(data: Contexts, rows: np.ndarray) -> Contexts:
    """The examples ``rows`` of ``data``."""
    return Contexts(
        context=data.context[rows],
        target=data.target[rows],
        user=data.user[rows],
        weight=data.weight[rows],
    )


class SeqrecTrainer:
    """Local training of ``seqrec`` on one instance's users of a split.

    Parameters
    ----------
    split, users:
        The data and this instance's users (dense indices); the training examples are
        their training events with an earlier item (:class:`~mpcrec.model.seqrec.Contexts`).
    rounds:
        The run's length (the local learning rate decays linearly over it).
    rng:
        The training randomness (order, negatives). The plaintext twin passes the
        simulation's one generator to every shard.
    config:
        The model's settings (default :data:`~mpcrec.model.tuned_sequence.SEQ_RUNTIME`).
    """

    model_kind = MODEL_KIND

    def __init__(
        self,
        split: Split,
        users: np.ndarray,
        rounds: int,
        rng: np.random.Generator,
        *,
        config: SeqConfig = SEQ_RUNTIME,
    ) -> None:
        self.split = split
        self.users = np.asarray(users, np.int64)
        self.config = config
        self.examples = Contexts.of(split, config, self.users)
        self.rounds = rounds
        self.rng = rng

    @classmethod
    def movielens(cls, index: int, instances: int, seed: int, rounds: int) -> SeqrecTrainer:
        """Shard ``index`` of ``instances`` of ML-100k (the quality benchmark's partition),
        training randomness ``default_rng([seed, index])``."""
        data = load_movielens_100k()
        users = partition_users(data, instances, seed=seed).members(index)
        return cls(leave_last_out(data), users, rounds, np.random.default_rng([seed, index]))

    @classmethod
    def from_config(cls, config: MovieLensTrainerConfig, *, state_dir: Path) -> SeqrecTrainer:
        """The trainer a ``kind: movielens, model: seqrec`` trainer section names."""
        return cls.movielens(config.index, config.instances, config.seed, config.rounds)

    def _lr(self, version: int) -> float:
        step = min(version, self.rounds - 1)
        return self.config.lr * (1.0 - step / self.rounds)

    def update(
        self, model: Matrix, version: int, *, server_lr: float = 1.0
    ) -> tuple[Matrix, float]:
        """One round of local training from model ``version``: the delta over
        ``server_lr``, weight = training examples.

        The server step multiplies the committee's weighted mean by ``server_lr``, so the
        published model is FedAvg's ``model + sum_i w_i delta_i`` whatever ``server_lr``;
        a larger one only shrinks what the committee checks: a local delta's norm (at
        most 24.9 with ``SEQ_FED_HARD`` over the demo's 20 x 25 rounds, 37.6 with
        ``SEQ_FED``; benchmarks/seq_update_norms.py) must fit ``clip_norm``, and the wrap
        guard allows at most ``C = 8.8`` at 107,648 values (``D (16 C 2**16)**2 < 2**63``).
        """
        local = to_model(model, self.config)
        for _ in range(self.config.epochs):
            seq_epoch(local, self.examples, self._lr(version), self.rng)
        delta = (to_matrix(local) - model) / server_lr
        return delta, float(self.examples.target.shape[0])

    def update_user_level(
        self,
        model: Matrix,
        version: int,
        *,
        user_rate: float,
        user_clip_norm: float,
        rng: np.random.Generator,
    ) -> Matrix:
        """One user-level round (:mod:`mpcrec.node.user_dp`): every local user drawn with
        ``user_rate`` from ``rng`` trains a private copy of ``(E, V)`` on their own
        examples (the local epochs), their delta is clipped to ``user_clip_norm`` on its
        own, and the clipped deltas are summed (DP-FedAvg with per-user clipping)."""
        drawn = self.users[rng.random(self.users.shape[0]) < user_rate]
        total = np.zeros_like(model)
        for user in drawn.tolist():
            rows = np.flatnonzero(self.examples.user == user)
            if rows.shape[0] == 0:
                continue
            local = to_model(model, self.config)
            for _ in range(self.config.epochs):
                seq_epoch(local, subset(self.examples, rows), self._lr(version), rng)
            delta = (to_matrix(local) - model).ravel()
            total += clip_to_norm(delta, user_clip_norm).reshape(model.shape)
        return total

    def gram_counts(self) -> np.ndarray:
        """This instance's share of the co-view Gram release: the upper triangle (row by
        row, diagonal included) of its own users' training counts ``X_k^T X_k``."""
        return triangle(home_counts(viewed(self.split), self.users))

    def snapshot(
        self,
        model: Matrix,
        version: int,
        *,
        ease_weights: Matrix | None = None,
        ease: EaseConfig | None = None,
    ) -> SeqSnapshot:
        """What this instance serves from model ``version``: each local user's list from
        their own recent history here, related videos from the current video; with EASE's
        ``ease_weights`` (``B`` from the released Gram) both mixed with ``x_u B``."""
        train = self.split.train
        local = set(self.users.tolist())
        by_user = histories(train)
        history = {int(train.user_ids[u]): by_user[u] for u in sorted(local)}
        return SeqSnapshot.from_model(
            to_model(model, self.config),
            version=f"v{version}",
            item_urls=train.item_ids,
            item_uuids=item_uuids(train.item_ids),
            history={u: [train.item_ids[i] for i in h.tolist()] for u, h in history.items()},
            popularity=np.bincount(
                train.items[np.isin(train.users, self.users)], minlength=model.shape[0]
            ),
            ease_weights=ease_weights,
            ease=ease,
        )
