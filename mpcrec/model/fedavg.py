"""Plaintext federated averaging: the reference every secure round must reproduce.

A round, for global item embeddings ``V`` (public) and instances ``1..N``:

1. every instance runs :func:`~mpcrec.model.local.local_update` from ``V`` on its own
   data and returns a bounded delta ``d_i`` (its user embeddings stay at home);
2. the server forms ``a = sum_i w_i d_i + w * noise`` with public weights ``w_i`` and
   ``noise ~ N(0, (2 z C)^2)`` per coordinate (``z`` the noise multiplier, ``C`` the clip
   norm), by :func:`~mpcrec.model.server.weighted_sum`;
3. :class:`~mpcrec.model.server.ServerSGD` moves ``V`` by ``a`` (learning rate, momentum).

The local learning rate follows :meth:`~mpcrec.model.mf.MFConfig.at` over the rounds
(linear decay, as central training does over its epochs).

Weights: ``"examples"`` is classic FedAvg, ``w_i = n_i / sum_j n_j`` (``n_i`` training
events); ``"uniform"`` is ``1 / N`` (instance-level DP, where ``n_i`` is private); with
per-user clipping the weight is ``1 / (q * n_users)`` for every instance (the sum over
drawn users divided by their expected number, DP-FedAvg's fixed denominator). With
``z = 0`` and no clipping the secure committee must produce the same ``V`` within
fixed-point error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.local import InstanceData, LocalConfig, local_update
from mpcrec.model.mf import Factors, init_factors
from mpcrec.model.server import ServerSGD, weighted_sum

WEIGHTINGS = ("examples", "uniform")


@dataclass(frozen=True)
class FedConfig:
    """A federated training run.

    Attributes
    ----------
    rounds:
        Number of rounds.
    local:
        What each instance does per round (epochs, clipping, user sampling).
    server_lr, server_momentum:
        The server optimiser (:class:`~mpcrec.model.server.ServerSGD`).
    noise_multiplier:
        ``z``: Gaussian noise of standard deviation ``z * 2 * clip_norm * w`` on the sum
        (replace-one sensitivity).
    weighting:
        ``"examples"`` or ``"uniform"`` (ignored with per-user clipping).
    """

    rounds: int = 200
    local: LocalConfig = field(default_factory=LocalConfig)
    server_lr: float = 1.0
    server_momentum: float = 0.0
    noise_multiplier: float = 0.0
    weighting: str = "examples"

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, not {self.weighting!r}")
        if self.noise_multiplier > 0:
            if self.local.clip == "none" or math.isinf(self.local.clip_norm):
                raise ValueError("noise needs clipping to a finite clip_norm (std z * C)")
            if self.local.clip == "instance" and self.weighting != "uniform":
                raise ValueError("noise with instance clipping needs uniform weights")


@dataclass
class Federation:
    """The simulated federation: every instance's data and private user embeddings."""

    instances: list[InstanceData]
    user_embs: list[np.ndarray]
    factors: Factors

    @classmethod
    def create(
        cls, split: Split, partition: Partition, config: FedConfig, rng: np.random.Generator
    ) -> Federation:
        """Initial model (drawn from ``rng`` like central training) and the shards."""
        factors = init_factors(split.n_users, split.n_items, config.local.mf, rng)
        instances = [
            InstanceData.from_split(split, partition.members(k))
            for k in range(partition.n_instances)
        ]
        user_embs = [factors.user_emb[data.global_users].copy() for data in instances]
        return cls(instances=instances, user_embs=user_embs, factors=factors)

    def assembled(self) -> Factors:
        """All users' embeddings gathered for evaluation (a simulation-only view)."""
        for data, emb in zip(self.instances, self.user_embs, strict=True):
            self.factors.user_emb[data.global_users] = emb
        return self.factors


def round_weights(instances: Sequence[InstanceData], config: FedConfig) -> list[float]:
    """The public weight of every instance's delta in the aggregate."""
    if config.local.clip == "user":
        expected = config.local.user_rate * sum(d.n_users for d in instances)
        return [1.0 / expected] * len(instances)
    if config.weighting == "uniform":
        return [1.0 / len(instances)] * len(instances)
    total = sum(d.n_events for d in instances)
    return [d.n_events / total for d in instances]


def train_fedavg(
    split: Split,
    partition: Partition,
    config: FedConfig,
    *,
    seed: int,
    on_round: Callable[[int], None] | None = None,
) -> Factors:
    """Run ``config.rounds`` plaintext FedAvg rounds; return the final factors.

    Randomness: the model is initialised from ``default_rng(seed)`` (the same draw as
    :func:`~mpcrec.model.mf.train_central`); the rounds' local training and the noise
    continue from that generator, instance by instance in order.
    """
    rng = np.random.default_rng(seed)
    fed = Federation.create(split, partition, config, rng)
    weights = round_weights(fed.instances, config)
    server = ServerSGD(lr=config.server_lr, momentum=config.server_momentum)
    item_emb = fed.factors.item_emb
    shape = item_emb.shape
    for r in range(config.rounds):
        local = replace(config.local, mf=config.local.mf.at(r, config.rounds))
        deltas = []
        for k, data in enumerate(fed.instances):
            result = local_update(item_emb, data, fed.user_embs[k], local, rng)
            fed.user_embs[k] = result.user_emb
            deltas.append(result.delta)
        aggregate = weighted_sum(deltas, weights)
        if config.noise_multiplier > 0:
            # replace-one sensitivity, as the committee's: 2 * C * max w (privacy-accounting.md)
            sigma = config.noise_multiplier * 2.0 * config.local.clip_norm * max(weights)
            aggregate = aggregate + rng.normal(0.0, sigma, size=aggregate.shape)
        item_emb = server.step(item_emb.ravel(), aggregate).reshape(shape)
        if on_round is not None:
            on_round(r + 1)
    fed.factors.item_emb = item_emb
    return fed.assembled()
