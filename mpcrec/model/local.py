"""One instance's share of a federated round: train at home, return the item-embedding delta.

This is the function an instance's node calls every round, and the plaintext FedAvg
simulation (:mod:`mpcrec.model.fedavg`) calls it too. It starts from the published global
item embeddings and the instance's own user embeddings (which never leave it) and returns
``delta = new local item embeddings - global``, flattened row-major, bounded as asked:

``clip="none"``
    ``epochs`` passes of :func:`~mpcrec.model.mf.sgd_epoch` over the instance's events.
``clip="instance"``
    The same, then the whole delta scaled to L2 norm at most ``clip_norm``
    (instance-level privacy: one instance's influence is bounded).
``clip="user"``
    User-level privacy (DP-FedAvg of McMahan et al., ICLR 2018, with users as the
    privacy unit): every user is drawn independently with probability ``user_rate``
    (Poisson sampling); each drawn user trains a private copy of the item rows their
    events touch (one fresh uniform negative per event), ``user_steps`` full-batch steps
    from the global model: the rows move by ``lr`` times the summed BPR gradient, the
    user's embedding by ``user_lr`` times its mean gradient; that user's delta is clipped
    to ``clip_norm`` on its own; the instance returns the SUM of the clipped deltas. The
    server adds ``N(0, (z * clip_norm)^2)`` to the sum over all
    instances and divides by the expected number of drawn users, ``user_rate * n_users``.
    Whatever the instance's other users did, one user moves the sum by at most
    ``clip_norm``.

User embeddings are updated at home (they are private and only ever serve their own
user): every user's in modes ``none`` and ``instance``, the drawn users' in mode ``user``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mpcrec.data.interactions import IntArray
from mpcrec.data.split import Split
from mpcrec.model.mf import Matrix, MFConfig, bpr_gradients, event_ages, sgd_epoch
from mpcrec.model.server import Vector, clip_to_norm

CLIP_MODES = ("none", "instance", "user")


@dataclass(frozen=True)
class InstanceData:
    """One instance's training events, with its users re-indexed locally.

    Attributes
    ----------
    users:
        Local user index of every event (``0..n_users-1``).
    items:
        Global item index of every event.
    global_users:
        Global index of every local user (ascending).
    ages:
        How many of the same user's training events come after each event
        (:func:`~mpcrec.model.mf.event_ages`), for recency weighting; None: no weighting.
    """

    users: IntArray
    items: IntArray
    global_users: IntArray
    ages: IntArray | None = None

    @property
    def n_users(self) -> int:
        """Number of users at this instance."""
        return int(self.global_users.shape[0])

    @property
    def n_events(self) -> int:
        """Number of training events at this instance."""
        return int(self.users.shape[0])

    @classmethod
    def from_split(cls, split: Split, members: IntArray) -> InstanceData:
        """The training events of the users ``members`` (global indices)."""
        members = np.sort(np.asarray(members, dtype=np.int64))
        local = np.full(split.n_users, -1, dtype=np.int64)
        local[members] = np.arange(members.shape[0])
        train = split.train
        rows = np.flatnonzero(local[train.users] >= 0)
        return cls(
            users=local[train.users[rows]],
            items=train.items[rows],
            global_users=members,
            ages=event_ages(train)[rows],
        )


@dataclass(frozen=True)
class LocalConfig:
    """How an instance trains and bounds its contribution.

    Attributes
    ----------
    mf:
        The factorisation's hyper-parameters (``lr``, ``reg``, ``batch_size``...).
    epochs:
        Local epochs per round (modes ``none`` and ``instance``).
    clip:
        ``"none"``, ``"instance"`` or ``"user"`` (see the module docstring).
    clip_norm:
        L2 bound ``C`` on an instance's (or a user's) delta.
    user_rate:
        Poisson sampling rate ``q`` of users (mode ``user``).
    user_steps:
        Full-batch gradient steps per user (mode ``user``).
    user_lr:
        Step of a user's embedding along its mean gradient (mode ``user``).
    """

    mf: MFConfig = field(default_factory=MFConfig)
    epochs: int = 1
    clip: str = "none"
    clip_norm: float = math.inf
    user_rate: float = 1.0
    user_steps: int = 1
    user_lr: float = 0.5

    def __post_init__(self) -> None:
        if self.clip not in CLIP_MODES:
            raise ValueError(f"clip must be one of {CLIP_MODES}, not {self.clip!r}")
        if not 0.0 < self.user_rate <= 1.0:
            raise ValueError(f"user_rate must be in (0, 1], not {self.user_rate}")
        if self.clip_norm <= 0:
            raise ValueError(f"clip_norm must be positive, not {self.clip_norm}")


@dataclass(frozen=True)
class LocalResult:
    """What an instance contributes after a round, and what it keeps.

    Attributes
    ----------
    delta:
        Update of the global item embeddings, flattened row-major (float64), bounded
        as configured. This is what gets secret-shared.
    user_emb:
        The instance's new user embeddings (stay at home).
    n_examples:
        Training events used (mode ``user``: those of the drawn users).
    n_contributors:
        Users whose events shaped ``delta`` (mode ``user``: the drawn users).
    """

    delta: Vector
    user_emb: Matrix
    n_examples: int
    n_contributors: int


def local_update(
    item_emb: Matrix,
    data: InstanceData,
    user_emb: Matrix,
    config: LocalConfig,
    rng: np.random.Generator,
) -> LocalResult:
    """Train on one instance's data from the global ``item_emb``; return its bounded delta.

    Neither ``item_emb`` nor ``user_emb`` is modified. All randomness comes from ``rng``.
    """
    if config.clip == "user":
        return _per_user_update(item_emb, data, user_emb, config, rng)
    local_items = item_emb.copy()
    local_users = user_emb.copy()
    for _ in range(config.epochs):
        sgd_epoch(local_items, local_users, data.users, data.items, config.mf, rng, data.ages)
    delta = (local_items - item_emb).ravel()
    if config.clip == "instance":
        delta = clip_to_norm(delta, config.clip_norm)
    return LocalResult(
        delta=delta,
        user_emb=local_users,
        n_examples=data.n_events,
        n_contributors=data.n_users,
    )


def _per_user_update(
    item_emb: Matrix,
    data: InstanceData,
    user_emb: Matrix,
    config: LocalConfig,
    rng: np.random.Generator,
) -> LocalResult:
    """Mode ``user``: Poisson-drawn users, each with its own clipped delta, summed."""
    n_items, dim = item_emb.shape
    # separate streams: a user's draw and negatives do not depend on the other users'
    # counts (user k's draw is the k-th of its stream, its negatives follow the earlier users')
    draw_rng, negative_rng = rng.spawn(2)
    drawn = draw_rng.random(data.n_users) < config.user_rate
    negatives = negative_rng.integers(0, n_items, size=data.n_events)
    events = np.flatnonzero(drawn[data.users])  # only drawn users train this round
    users, pos, neg = data.users[events], data.items[events], negatives[events]
    local_users = user_emb.copy()
    # one private copy of an item row per (user, item) pair the user's events touch
    keys = np.concatenate([users * n_items + pos, users * n_items + neg])
    pairs, slot = np.unique(keys, return_inverse=True)
    pos_slot, neg_slot = slot[: events.shape[0]], slot[events.shape[0] :]
    pair_user, pair_item = pairs // n_items, pairs % n_items
    rows = item_emb[pair_item]
    counts = np.bincount(users, minlength=data.n_users).astype(np.float64)
    for _ in range(config.user_steps):
        grad_u, grad_pos, grad_neg = bpr_gradients(
            local_users[users], rows[pos_slot], rows[neg_slot], config.mf
        )
        step_u = np.zeros_like(local_users)
        np.add.at(step_u, users, grad_u)
        local_users += config.user_lr * step_u / np.maximum(counts, 1.0)[:, None]
        step_rows = np.zeros_like(rows)
        np.add.at(step_rows, pos_slot, grad_pos)
        np.add.at(step_rows, neg_slot, grad_neg)
        rows = rows + config.mf.lr * step_rows
    moved = rows - item_emb[pair_item]
    norms = np.sqrt(
        np.bincount(pair_user, weights=np.sum(moved**2, axis=1), minlength=data.n_users)
    )
    scale = np.minimum(1.0, config.clip_norm / np.maximum(norms, 1e-12))
    delta = np.zeros((n_items, dim), dtype=np.float64)
    np.add.at(delta, pair_item, moved * scale[pair_user][:, None])
    return LocalResult(
        delta=delta.ravel(),
        user_emb=local_users,
        n_examples=int(counts[drawn].sum()),
        n_contributors=int(drawn.sum()),
    )
