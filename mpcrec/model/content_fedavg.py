"""Federated averaging of the factorisation and the content map together, in the same rounds.

The global model is the collaborative rows ``E`` (``n_items x dim``) and the content map
``W`` (``n_features x dim``); the item rows every instance trains from are
``V = E + F W`` (``F`` the public feature rows of :func:`~mpcrec.model.content.featurise`).
A round:

1. every instance runs :func:`~mpcrec.model.local.local_update` from ``V``, unchanged, and
   returns its bounded delta ``d_i`` of ``V`` (clipped, if asked, like any other delta);
2. the server forms ``a = sum_i w_i d_i (+ noise)`` as in :mod:`mpcrec.model.fedavg`;
3. ``E`` moves by ``a`` and ``W`` by ``map_lr * F^T a``: the chain rule through
   ``V = E + F W`` (the map's gradient is ``F^T`` times the rows'), with ``map_reg``
   weight decay on ``W``.

The map's step is linear in the aggregate and ``F`` is public, so ``F^T a`` equals the sum
of the instances' own ``F^T d_i`` (aggregated the same way, same clipping, same noise)
without carrying them: the map's update comes from users' histories exactly as the rows'
does, is bounded by the same clip and noised by the same noise (a post-processing of the
aggregate: no privacy cost beyond the rows', no extra secure payload). With ``map_lr = 0``
this is :func:`~mpcrec.model.fedavg.train_fedavg` exactly (same draws, same result).
A row without any training event is served as its content row ``W^T f`` alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.fedavg import FedConfig, Federation, round_weights
from mpcrec.model.local import local_update
from mpcrec.model.mf import Factors, Matrix
from mpcrec.model.server import ServerSGD, weighted_sum


@dataclass(frozen=True)
class ContentConfig:
    """How the content map trains alongside the rows.

    Attributes
    ----------
    map_lr:
        Step of ``W`` along ``F^T a`` relative to the rows' step (0: no map).
    map_reg:
        Weight decay of ``W`` per round (``W <- (1 - map_reg) W`` before the step).
    """

    map_lr: float = 0.05
    map_reg: float = 0.0

    def __post_init__(self) -> None:
        if self.map_lr < 0 or not 0.0 <= self.map_reg < 1.0:
            raise ValueError(f"map_lr >= 0 and 0 <= map_reg < 1, not {self}")


@dataclass
class ContentModel:
    """The trained model: users, collaborative rows, the map, and who had signal."""

    factors: Factors  # item_emb: the served rows (E + F W, or F W without signal)
    collaborative: Matrix
    content_map: Matrix


def content_map_step(features: Matrix, aggregate_rows: Matrix, content: ContentConfig) -> Matrix:
    """The map's share of a round's update: ``map_lr * F^T a`` (``a`` the rows' aggregate).

    A function of public values only (the features, the round's published aggregate):
    every node and the launcher compute the same step, and the secure round carries
    nothing more than the rows' delta.
    """
    if features.shape[0] != aggregate_rows.shape[0]:
        raise ValueError(f"{features.shape[0]} feature rows for {aggregate_rows.shape[0]} rows")
    return np.asarray(content.map_lr * (features.T @ aggregate_rows), dtype=np.float64)


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
    collab = fed.factors.item_emb
    content_map = np.zeros((features.shape[1], collab.shape[1]), dtype=np.float64)
    n_rows = collab.size
    for r in range(config.rounds):
        local = replace(config.local, mf=config.local.mf.at(r, config.rounds))
        items = collab + features @ content_map
        deltas = []
        for k, data in enumerate(fed.instances):
            result = local_update(items, data, fed.user_embs[k], local, rng)
            fed.user_embs[k] = result.user_emb
            deltas.append(result.delta)
        aggregate = weighted_sum(deltas, weights)
        if config.noise_multiplier > 0:
            sigma = config.noise_multiplier * 2.0 * config.local.clip_norm * max(weights)
            aggregate = aggregate + rng.normal(0.0, sigma, size=aggregate.shape)
        map_step = content_map_step(features, aggregate.reshape(collab.shape), content)
        content_map = content_map * (1.0 - content.map_reg)
        params = np.concatenate([collab.ravel(), content_map.ravel()])
        moved = server.step(params, np.concatenate([aggregate, map_step.ravel()]))
        collab = moved[:n_rows].reshape(collab.shape)
        content_map = moved[n_rows:].reshape(content_map.shape)
        if on_round is not None:
            on_round(r + 1)
    signal = np.bincount(split.train.items, minlength=split.n_items) > 0
    served = features @ content_map + collab * signal[:, None]
    fed.factors.item_emb = served
    return ContentModel(factors=fed.assembled(), collaborative=collab, content_map=content_map)
