"""Federated averaging of the factorisation and the content map together, in the same rounds.

The global model is the collaborative rows ``E`` (``n_items x dim``) and the content map
``W`` (``n_features x dim``); the item rows every instance trains from are
``V = E + F W`` (``F`` the public feature rows of :func:`~mpcrec.model.content.featurise`).
A round:

1. every instance runs :func:`~mpcrec.model.local.local_update` from ``V``, unchanged, and
   returns its bounded delta ``d_i`` of ``V`` (clipped, if asked, like any other delta);
2. the server forms ``a = sum_i w_i d_i (+ noise)`` as in :mod:`mpcrec.model.fedavg`;
3. ``E`` moves by ``a`` and ``W`` by the map's step (:attr:`ContentConfig.step`), with
   ``map_reg`` weight decay on ``W``.

The steps (:func:`content_map_step`, :func:`ridge_map_step`):

``summed``
    ``map_lr * F^T a``, the chain rule through ``V = E + F W``. Column ``j`` sums the
    deltas of *every* item carrying feature ``j`` (``bias`` is on all of them, a genre on
    hundreds), so ``F F^T a`` dwarfs the rows' own step and drowns the collaborative part
    (whole-past NDCG@10 0.023 against 0.086 at ``map_lr`` 0.1). Kept for comparison.
``averaged``
    ``map_lr * diag(1/m) F^T a`` with ``m_j = sum_i F_ij`` the feature's mass: ``W_j``
    moves by the mass-weighted *mean* delta of the items carrying ``j`` (a preconditioned
    chain-rule step, bounded by the largest row delta whatever the catalogue's size).
``ridge``
    the instances train from the rows ``V`` alone (their trajectory is
    :func:`~mpcrec.model.fedavg.train_fedavg`'s exactly); after each round ``W`` moves
    ``map_lr`` of the way to ``argmin ||F_w W - V_w||^2 + lam ||W||^2`` over the rows with a
    training event (closed form; ``map_lr = 1``: the ridge fit itself), and ``E = V - F W``
    is the residual. Served rows are unchanged, new ones start from ``F W``.

Every step is a function of public values (``F``, the published aggregate or rows): no
privacy cost beyond the rows', no extra secure payload. The linear steps equal the sum of
the instances' own steps (same clipping, same noise). With ``map_lr = 0`` every variant is
:func:`~mpcrec.model.fedavg.train_fedavg` exactly (same draws, same result). A row
without any training event is served as its content row ``W^T f`` alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.content import fit_content_map
from mpcrec.model.fedavg import FedConfig, Federation, round_weights
from mpcrec.model.local import local_update
from mpcrec.model.mf import Factors, Matrix
from mpcrec.model.server import ServerSGD, weighted_sum

STEPS = ("summed", "averaged", "ridge")


@dataclass(frozen=True)
class ContentConfig:
    """How the content map trains alongside the rows.

    Attributes
    ----------
    map_lr:
        Step of ``W`` relative to the rows' step (0: no map); for ``ridge``, the fraction
        of the way to the ridge fit per round (at most 1).
    map_reg:
        Weight decay of ``W`` per round (``W <- (1 - map_reg) W`` before the step;
        ``summed`` and ``averaged`` only).
    step:
        ``summed``, ``averaged`` or ``ridge`` (the module docstring).
    lam:
        Ridge penalty of the ``ridge`` step (positive).
    """

    map_lr: float = 1.0
    map_reg: float = 0.0
    step: str = "ridge"
    lam: float = 10.0

    def __post_init__(self) -> None:
        if self.map_lr < 0 or not 0.0 <= self.map_reg < 1.0 or self.lam <= 0:
            raise ValueError(f"map_lr >= 0, 0 <= map_reg < 1 and lam > 0, not {self}")
        if self.step not in STEPS:
            raise ValueError(f"step {self.step!r}: one of {', '.join(STEPS)}")
        if self.step == "ridge" and self.map_lr > 1.0:
            raise ValueError(f"the ridge step moves W at most all the way (map_lr <= 1): {self}")


@dataclass
class ContentModel:
    """The trained model: users, collaborative rows, the map, and who had signal."""

    factors: Factors  # item_emb: the served rows (E + F W, or F W without signal)
    collaborative: Matrix
    content_map: Matrix


def content_map_step(features: Matrix, aggregate_rows: Matrix, content: ContentConfig) -> Matrix:
    """The map's share of a round's update (``summed`` or ``averaged``; ``a`` the aggregate).

    ``summed``: ``map_lr * F^T a``; ``averaged``: column ``j`` divided by the feature's
    mass ``sum_i F_ij`` (0 for a feature no row carries). A function of public values only
    (the features, the round's published aggregate): every node and the launcher compute
    the same step, and the secure round carries nothing more than the rows' delta.
    """
    if features.shape[0] != aggregate_rows.shape[0]:
        raise ValueError(f"{features.shape[0]} feature rows for {aggregate_rows.shape[0]} rows")
    if content.step == "ridge":
        raise ValueError("the ridge step is ridge_map_step (it needs the rows, not the aggregate)")
    summed = features.T @ aggregate_rows
    if content.step == "averaged":
        mass = features.sum(axis=0)
        summed = np.divide(
            summed, mass[:, None], out=np.zeros_like(summed), where=mass[:, None] > 0
        )
    return np.asarray(content.map_lr * summed, dtype=np.float64)


def ridge_map_step(
    features: Matrix, rows: Matrix, content_map: Matrix, content: ContentConfig
) -> Matrix:
    """``W`` moved ``map_lr`` of the way to the ridge fit of ``rows`` on ``features``.

    ``features`` and ``rows`` are those of the items with a training event (public: the
    metadata and the round's published model).
    """
    target = fit_content_map(features, rows, lam=content.lam)
    return np.asarray(content_map + content.map_lr * (target - content_map), dtype=np.float64)


def train_content_fedavg(
    split: Split,
    partition: Partition,
    config: FedConfig,
    features: Matrix,
    content: ContentConfig,
    *,
    seed: int,
    on_round: Callable[[int], None] | None = None,
) -> ContentModel:
    """``config.rounds`` rounds training ``E`` and ``W`` together; the served model."""
    rng = np.random.default_rng(seed)
    fed = Federation.create(split, partition, config, rng)
    weights = round_weights(fed.instances, config)
    server = ServerSGD(lr=config.server_lr, momentum=config.server_momentum)
    signal = np.bincount(split.train.items, minlength=split.n_items) > 0
    collab = fed.factors.item_emb
    content_map = np.zeros((features.shape[1], collab.shape[1]), dtype=np.float64)
    n_rows = collab.size
    ridge = content.step == "ridge"
    for r in range(config.rounds):
        local = replace(config.local, mf=config.local.mf.at(r, config.rounds))
        items = collab if ridge else collab + features @ content_map
        deltas = []
        for k, data in enumerate(fed.instances):
            result = local_update(items, data, fed.user_embs[k], local, rng)
            fed.user_embs[k] = result.user_emb
            deltas.append(result.delta)
        aggregate = weighted_sum(deltas, weights)
        if config.noise_multiplier > 0:
            sigma = config.noise_multiplier * 2.0 * config.local.clip_norm * max(weights)
            aggregate = aggregate + rng.normal(0.0, sigma, size=aggregate.shape)
        if ridge:
            collab = server.step(collab.ravel(), aggregate).reshape(collab.shape)
            if content.map_lr > 0:
                content_map = ridge_map_step(features[signal], collab[signal], content_map, content)
        else:
            map_step = content_map_step(features, aggregate.reshape(collab.shape), content)
            content_map = content_map * (1.0 - content.map_reg)
            params = np.concatenate([collab.ravel(), content_map.ravel()])
            moved = server.step(params, np.concatenate([aggregate, map_step.ravel()]))
            collab = moved[:n_rows].reshape(collab.shape)
            content_map = moved[n_rows:].reshape(content_map.shape)
        if on_round is not None:
            on_round(r + 1)
    if ridge:
        collab = collab - features @ content_map  # the residual: served rows stay V
    served = features @ content_map + collab * signal[:, None]
    fed.factors.item_emb = served
    return ContentModel(factors=fed.assembled(), collaborative=collab, content_map=content_map)
