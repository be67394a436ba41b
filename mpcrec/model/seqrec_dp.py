"""User-level DP-FedAvg for the sequence model of :mod:`mpcrec.model.seqrec`.

Every round, at every instance, each user is drawn independently with probability
``user_rate`` (Poisson sampling); a drawn user takes ``user_steps`` full-batch gradient
steps of the model's loss over their own events, from the global ``(E, V)``, and their
delta is clipped to L2 norm ``clip_norm`` at home; the instance returns the SUM of its
users' clipped deltas (the one flat vector the secure round sums). The server adds
Gaussian noise of standard deviation ``z * 2 * clip_norm`` per coordinate (replace-one
sensitivity, as :mod:`mpcrec.model.fedavg`), divides by the expected number of drawn users
``user_rate * n_users`` (DP-FedAvg's fixed denominator) and moves the model by
``server_lr`` times that. The privacy of the whole training is that of the subsampled
Gaussian mechanism over ``rounds`` steps (:mod:`mpcrec.privacy.accountant`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.mf import Matrix
from mpcrec.model.seqrec import Contexts, SeqConfig, SeqModel, seq_epoch
from mpcrec.model.server import clip_to_norm


@dataclass(frozen=True)
class SeqDPConfig:
    """The private training around a :class:`~mpcrec.model.seqrec.SeqConfig`.

    Attributes
    ----------
    rounds:
        Federated rounds (accountant steps).
    user_rate:
        Poisson sampling rate ``q`` of a user per round.
    clip_norm:
        ``C``: L2 bound of one user's delta.
    noise_multiplier:
        ``z`` (0: no noise, clipping and sampling only).
    user_steps:
        Full-batch local steps of a drawn user (step ``model.lr``).
    server_lr:
        Server step on the mean clipped delta.
    """

    rounds: int = 50
    user_rate: float = 0.2
    clip_norm: float = 1.0
    noise_multiplier: float = 0.0
    user_steps: int = 1
    server_lr: float = 1.0


def user_delta(
    model: SeqModel,
    data: Contexts,
    steps: int,
    clip_norm: float,
    rng: np.random.Generator | None = None,
) -> Matrix:
    """One user's clipped delta of the flat parameters after ``steps`` full-batch steps.

    ``rng`` draws BPR's negatives (softmax draws nothing); default a fixed stream.
    """
    start = model.flat()
    full = replace(model.config, batch_size=max(data.target.shape[0], 1))
    local = replace(model.with_flat(start), config=full)
    draws = np.random.default_rng(0) if rng is None else rng
    for _ in range(steps):
        seq_epoch(local, data, full.lr, draws)
    return clip_to_norm(local.flat() - start, clip_norm)


def _by_user(data: Contexts) -> dict[int, Contexts]:
    """Every user's own examples (users without any are left out)."""
    order = np.argsort(data.user, kind="stable")
    users, starts = np.unique(data.user[order], return_index=True)
    out = {}
    for u, rows in zip(users, np.split(order, starts[1:]), strict=True):
        out[int(u)] = Contexts(
            context=data.context[rows],
            target=data.target[rows],
            user=data.user[rows],
            weight=data.weight[rows],
        )
    return out


def train_seq_dp(
    split: Split,
    partition: Partition,
    config: SeqConfig,
    privacy: SeqDPConfig,
    *,
    seed: int,
    on_round: Callable[[int], None] | None = None,
) -> SeqModel:
    """DP-FedAvg rounds as described above; the instances' sums stand for the secure round's.

    Randomness: model initialisation, then each round's user draws and the noise, from
    ``default_rng(seed)``; BPR's negatives from a stream spawned off it.
    """
    rng = np.random.default_rng(seed)
    model = SeqModel.init(split.n_items, config, rng)
    (negatives,) = rng.spawn(1)
    users = [partition.members(k) for k in range(partition.n_instances)]
    every_user = np.concatenate(users)
    examples = _by_user(Contexts.of(split, config))
    denominator = privacy.user_rate * every_user.shape[0]
    sigma = privacy.noise_multiplier * 2.0 * privacy.clip_norm
    for r in range(privacy.rounds):
        start = model.flat()
        total = np.zeros_like(start)
        for members in users:  # each instance: the sum of its drawn users' clipped deltas
            drawn = members[rng.random(members.shape[0]) < privacy.user_rate]
            for u in drawn:
                if int(u) in examples:
                    total += user_delta(
                        model, examples[int(u)], privacy.user_steps, privacy.clip_norm, negatives
                    )
        if sigma > 0:
            total += rng.normal(0.0, sigma, size=total.shape)
        model = model.with_flat(start + privacy.server_lr * total / denominator)
        if on_round is not None:
            on_round(r + 1)
    return model
