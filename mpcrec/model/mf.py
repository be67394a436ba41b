"""Implicit-feedback matrix factorisation trained with BPR (Rendle et al., UAI 2009).

A user ``u`` scores item ``i`` as ``U[u] . V[i]``. Item embeddings ``V`` are the global,
federated part of the model; user embeddings ``U`` never leave their instance. For every
training event ``(u, i)`` one negative ``j`` is drawn uniformly from the catalogue and the
triple's BPR loss ``-log sigmoid(U[u] . (V[i] - V[j]))`` plus L2 regularisation is
descended. An epoch visits the events in a seeded random order in mini-batches; within a
batch the per-example gradient steps are summed (Hogwild-style), all in vectorised numpy.

Recency weighting (optional, ``MFConfig.recency_boost``): an event's loss is weighted by
``1 + boost * 0.5 ** (age / half_life)``, where ``age`` counts the same user's training
events after it (0 for the user's latest). Under leave-last-out the held-out items are each
user's newest, so recent events say more about them. The weight depends on the user's own
history only, so an instance computes it at home and central and federated training agree.

:func:`sgd_epoch` is the one training step of the project: central training runs it over
all events, and :func:`mpcrec.model.local.local_update` runs it over one instance's events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from mpcrec.data.interactions import IntArray, Interactions
from mpcrec.data.split import Split

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MFConfig:
    """Hyper-parameters of the factorisation (tuned on the validation item of ML-100k).

    Attributes
    ----------
    dim:
        Embedding dimension.
    lr:
        SGD step per example.
    reg:
        L2 regularisation per example on the touched embeddings.
    batch_size:
        Events per vectorised mini-batch.
    epochs:
        Passes over the data (central training) or local epochs (federated).
    init_std:
        Standard deviation of the Gaussian initialisation.
    decay:
        Decay the learning rate linearly over the run: epoch (or round) ``t`` of ``T``
        uses ``lr * (1 - t / T)``; see :meth:`at`.
    item_bias:
        Reserve the last dimension for an item bias: every user's last coordinate is
        fixed to 1, so ``V[:, -1]`` is a learned popularity term (``V`` keeps its shape).
    recency_boost:
        Extra weight of a user's newest events: an event with ``age`` later events of
        the same user weighs ``1 + recency_boost * 0.5 ** (age / recency_half_life)``
        (0 = every event weighs 1); see :func:`recency_weights`.
    recency_half_life:
        Age (in events) at which the extra weight halves.
    """

    dim: int = 32
    lr: float = 0.05
    reg: float = 0.01
    batch_size: int = 256
    epochs: int = 30
    init_std: float = 0.1
    decay: bool = True
    item_bias: bool = True
    recency_boost: float = 0.0
    recency_half_life: float = 10.0

    def at(self, step: int, total: int) -> MFConfig:
        """The configuration for epoch (or round) ``step`` of ``total`` (0-based)."""
        if not self.decay:
            return self
        return replace(self, lr=self.lr * (1.0 - step / total))


@dataclass
class Factors:
    """User and item embeddings: ``scores = user_emb @ item_emb.T``."""

    user_emb: Matrix
    item_emb: Matrix

    def scores(self, users: IntArray) -> Matrix:
        """Scores of ``users`` for every item, shape ``(len(users), n_items)``."""
        return np.asarray(self.user_emb[users] @ self.item_emb.T, dtype=np.float64)


def init_embeddings(n: int, config: MFConfig, rng: np.random.Generator) -> Matrix:
    """``n x dim`` Gaussian embeddings with standard deviation ``config.init_std``."""
    return rng.normal(0.0, config.init_std, size=(n, config.dim))


def init_factors(n_users: int, n_items: int, config: MFConfig, rng: np.random.Generator) -> Factors:
    """Fresh user then item embeddings (bias column set up when ``config.item_bias``)."""
    user_emb = init_embeddings(n_users, config, rng)
    item_emb = init_embeddings(n_items, config, rng)
    if config.item_bias:
        user_emb[:, -1] = 1.0
        item_emb[:, -1] = 0.0
    return Factors(user_emb=user_emb, item_emb=item_emb)


def event_ages(train: Interactions) -> IntArray:
    """For every training event, how many of the same user's events come after it.

    Events are ordered per user by time, ties in row order (as
    :func:`~mpcrec.data.split.leave_last_out` orders them); the latest event has age 0.
    """
    order = np.lexsort((np.arange(len(train)), train.timestamps, train.users))
    counts = train.counts_per_user()
    starts = np.cumsum(counts) - counts
    position = np.empty(len(train), dtype=np.int64)
    position[order] = np.arange(len(train)) - np.repeat(starts, counts)
    return np.asarray(counts[train.users] - 1 - position, dtype=np.int64)


def recency_weights(ages: IntArray | None, config: MFConfig) -> Matrix | None:
    """Per-event loss weights ``1 + boost * 0.5 ** (age / half_life)`` (None: all 1)."""
    if ages is None or config.recency_boost == 0.0:
        return None
    decay = np.exp2(-np.asarray(ages, dtype=np.float64) / config.recency_half_life)
    return np.asarray(1.0 + config.recency_boost * decay, dtype=np.float64)


def bpr_gradients(
    pu: Matrix, qi: Matrix, qj: Matrix, config: MFConfig, weights: Matrix | None = None
) -> tuple[Matrix, Matrix, Matrix]:
    """Ascent directions of the regularised BPR objective for triples ``(u, i, j)``.

    With ``x = pu . (qi - qj)`` and ``g = w sigmoid(-x)`` (``w`` the triple's weight,
    1 by default), returns ``(g (qi - qj) - reg pu, g pu - reg qi, -g pu - reg qj)``;
    the user's bias coordinate gets no step when ``config.item_bias``.
    """
    diff = qi - qj
    x = np.einsum("bd,bd->b", pu, diff)
    g = 1.0 / (1.0 + np.exp(np.clip(x, -30.0, 30.0)))  # sigmoid(-x)
    if weights is not None:
        g = g * weights
    g = g[:, None]
    grad_u = g * diff - config.reg * pu
    if config.item_bias:
        grad_u[:, -1] = 0.0
    return grad_u, g * pu - config.reg * qi, -g * pu - config.reg * qj


def sgd_epoch(
    item_emb: Matrix,
    user_emb: Matrix,
    users: IntArray,
    items: IntArray,
    config: MFConfig,
    rng: np.random.Generator,
    ages: IntArray | None = None,
) -> None:
    """One BPR epoch over the events ``(users[k], items[k])``, updating both in place.

    ``users`` index rows of ``user_emb`` and ``items`` rows of ``item_emb``; ``ages[k]``
    (see :func:`event_ages`) weights event ``k`` when ``config.recency_boost`` is set.
    Draws the visit order, then one uniform negative per event, from ``rng``.
    """
    n_items = item_emb.shape[0]
    weights = recency_weights(ages, config)
    order: IntArray = rng.permutation(users.shape[0])
    negatives = np.asarray(rng.integers(0, n_items, size=users.shape[0]), dtype=np.int64)
    for start in range(0, order.shape[0], config.batch_size):
        batch = order[start : start + config.batch_size]
        u, i, j = users[batch], items[batch], negatives[batch]
        grad_u, grad_i, grad_j = bpr_gradients(
            user_emb[u],
            item_emb[i],
            item_emb[j],
            config,
            None if weights is None else weights[batch],
        )
        np.add.at(user_emb, u, config.lr * grad_u)
        np.add.at(item_emb, i, config.lr * grad_i)
        np.add.at(item_emb, j, config.lr * grad_j)


def train_central(
    split: Split, config: MFConfig, *, seed: int, epochs: int | None = None
) -> Factors:
    """Train on all training events in one place (the centralised reference)."""
    rng = np.random.default_rng(seed)
    factors = init_factors(split.n_users, split.n_items, config, rng)
    total = config.epochs if epochs is None else epochs
    ages = event_ages(split.train)
    for epoch in range(total):
        sgd_epoch(
            factors.item_emb,
            factors.user_emb,
            split.train.users,
            split.train.items,
            config.at(epoch, total),
            rng,
            ages,
        )
    return factors
