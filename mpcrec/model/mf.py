"""Implicit-feedback matrix factorisation trained with BPR (Rendle et al., UAI 2009).

A user ``u`` scores item ``i`` as ``U[u] . V[i]``. Item embeddings ``V`` are the global,
federated part of the model; user embeddings ``U`` never leave their instance. For every
training event ``(u, i)`` one negative ``j`` is drawn uniformly from the catalogue and the
triple's BPR loss ``-log sigmoid(U[u] . (V[i] - V[j]))`` plus L2 regularisation is
descended. An epoch visits the events in a seeded random order in mini-batches; within a
batch the per-example gradient steps are summed (Hogwild-style), all in vectorised numpy.

:func:`sgd_epoch` is the one training step of the project: central training runs it over
all events, and :func:`mpcrec.model.local.local_update` runs it over one instance's events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from mpcrec.data.interactions import IntArray
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
    """

    dim: int = 32
    lr: float = 0.05
    reg: float = 0.01
    batch_size: int = 256
    epochs: int = 30
    init_std: float = 0.1
    decay: bool = True
    item_bias: bool = True

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


def bpr_gradients(
    pu: Matrix, qi: Matrix, qj: Matrix, config: MFConfig
) -> tuple[Matrix, Matrix, Matrix]:
    """Ascent directions of the regularised BPR objective for triples ``(u, i, j)``.

    With ``x = pu . (qi - qj)`` and ``g = sigmoid(-x)``, returns
    ``(g (qi - qj) - reg pu, g pu - reg qi, -g pu - reg qj)``; the user's bias
    coordinate gets no step when ``config.item_bias``.
    """
    diff = qi - qj
    x = np.einsum("bd,bd->b", pu, diff)
    g = (1.0 / (1.0 + np.exp(np.clip(x, -30.0, 30.0))))[:, None]  # sigmoid(-x)
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
) -> None:
    """One BPR epoch over the events ``(users[k], items[k])``, updating both in place.

    ``users`` index rows of ``user_emb`` and ``items`` rows of ``item_emb``. Draws the visit
    order, then one uniform negative per event, from ``rng``.
    """
    n_items = item_emb.shape[0]
    order: IntArray = rng.permutation(users.shape[0])
    negatives = np.asarray(rng.integers(0, n_items, size=users.shape[0]), dtype=np.int64)
    for start in range(0, order.shape[0], config.batch_size):
        batch = order[start : start + config.batch_size]
        u, i, j = users[batch], items[batch], negatives[batch]
        grad_u, grad_i, grad_j = bpr_gradients(user_emb[u], item_emb[i], item_emb[j], config)
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
    for epoch in range(total):
        sgd_epoch(
            factors.item_emb,
            factors.user_emb,
            split.train.users,
            split.train.items,
            config.at(epoch, total),
            rng,
        )
    return factors
