"""Partitioning users into instances, the way a federation of PeerTube servers holds them.

Three ways, tried in this order by :func:`partition_users`:

1. **By label**: the table's ``user_instance`` column (the file said where each user lives).
2. **Non-IID by attribute** (MovieLens: zip code): users are grouped by the first
   ``prefix`` characters of the attribute (a region), the groups are shuffled under the
   seed and dealt, largest first, to the instance furthest below its Zipf target size.
   An instance so holds whole regions (non-IID), and instance sizes are skewed.
3. **By hash**: each user goes to the Zipf-weighted bucket its seeded hash falls in.

Zipf target sizes: instance ``k`` (0-based) gets a share proportional to
``1 / (k + 1) ** exponent``, like the few large and many small real instances.
Everything is deterministic under ``seed``. An empty instance is an error.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from mpcrec.data.interactions import IntArray, Interactions
from mpcrec.errors import DataError

ZIPF_EXPONENT = 1.0
ZIP_PREFIX = 2


@dataclass(frozen=True)
class Partition:
    """Which instance holds which user.

    Attributes
    ----------
    names:
        Instance names, indexed by instance number.
    user_instance:
        Instance number of every user (length ``n_users``), ``int64``.
    how:
        ``"label"``, ``"attribute"`` or ``"hash"``.
    """

    names: tuple[str, ...]
    user_instance: IntArray
    how: str

    @property
    def n_instances(self) -> int:
        """Number of instances."""
        return len(self.names)

    def sizes(self) -> IntArray:
        """Number of users in every instance."""
        return np.bincount(self.user_instance, minlength=self.n_instances).astype(np.int64)

    def members(self, instance: int) -> IntArray:
        """Dense user indices of ``instance``, ascending."""
        return np.flatnonzero(self.user_instance == instance).astype(np.int64)


def zipf_shares(n_instances: int, exponent: float = ZIPF_EXPONENT) -> np.ndarray:
    """Target share of users of each instance: ``1/(k+1)**exponent``, normalised."""
    weights = 1.0 / np.arange(1, n_instances + 1, dtype=np.float64) ** exponent
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def partition_users(data: Interactions, n_instances: int, *, seed: int) -> Partition:
    """Split ``data``'s users into instances (by label, else attribute, else hash).

    Parameters
    ----------
    data:
        The interactions (its users are partitioned).
    n_instances:
        Number of instances; ignored when the data carries instance labels.
    seed:
        Seed of the shuffles and hashes.

    Raises
    ------
    DataError
        If ``n_instances`` is not positive or an instance would be empty.
    """
    if data.user_instance is not None:
        return by_label(data.user_instance)
    if n_instances < 1:
        raise DataError(f"--instances {n_instances}: need at least 1 instance")
    if n_instances > data.n_users:
        raise DataError(
            f"--instances {n_instances} but only {data.n_users} users: an instance would be empty",
            hint=f"use at most {data.n_users} instances",
        )
    if data.user_attribute is not None:
        return by_attribute(data.user_attribute, n_instances, seed=seed)
    return by_hash(data.user_ids, n_instances, seed=seed)


def by_label(labels: tuple[str, ...]) -> Partition:
    """One instance per distinct label, named after it (sorted)."""
    names = tuple(sorted(set(labels)))
    if any(not name.strip() for name in names):
        raise DataError("a user has an empty instance label", hint="name every instance")
    index = {name: k for k, name in enumerate(names)}
    assigned = np.array([index[label] for label in labels], dtype=np.int64)
    return Partition(names=names, user_instance=assigned, how="label")


def by_attribute(
    attributes: tuple[str, ...], n_instances: int, *, seed: int, prefix: int = ZIP_PREFIX
) -> Partition:
    """Deal whole attribute groups (prefix of the attribute) to Zipf-sized instances."""
    groups: dict[str, list[int]] = defaultdict(list)
    for user, value in enumerate(attributes):
        groups[value.strip()[:prefix].upper()].append(user)
    rng = np.random.default_rng(seed)
    keys = sorted(groups)
    order = rng.permutation(len(keys))
    # largest groups first; the seeded shuffle breaks ties between equal sizes
    dealt = sorted((keys[k] for k in order), key=lambda key: -len(groups[key]))
    if len(dealt) < n_instances:
        return by_hash(tuple(str(u) for u in range(len(attributes))), n_instances, seed=seed)
    targets = zipf_shares(n_instances) * len(attributes)
    filled = np.zeros(n_instances, dtype=np.float64)
    assigned = np.empty(len(attributes), dtype=np.int64)
    empty = list(range(n_instances))
    for position, key in enumerate(dealt):
        remaining_groups = len(dealt) - position
        # as many groups left as empty instances: one each; else the most underfilled
        full = len(empty) >= remaining_groups
        instance = empty[0] if full else int(np.argmax(targets - filled))
        if instance in empty:
            empty.remove(instance)
        members = groups[key]
        assigned[members] = instance
        filled[instance] += len(members)
    return _named(assigned, n_instances, "attribute")


def by_hash(user_ids: tuple[str, ...], n_instances: int, *, seed: int) -> Partition:
    """Each user to the Zipf-weighted bucket of its seeded SHA-256 hash."""
    edges = np.cumsum(zipf_shares(n_instances))
    points = np.array(
        [
            int.from_bytes(hashlib.sha256(f"{seed}:{uid}".encode()).digest()[:8], "big") / 2**64
            for uid in user_ids
        ],
        dtype=np.float64,
    )
    assigned = np.minimum(np.searchsorted(edges, points, side="right"), n_instances - 1)
    return _named(assigned.astype(np.int64), n_instances, "hash")


def _named(assigned: IntArray, n_instances: int, how: str) -> Partition:
    width = len(str(n_instances - 1))
    partition = Partition(
        names=tuple(f"instance-{k:0{width}d}" for k in range(n_instances)),
        user_instance=assigned,
        how=how,
    )
    sizes = partition.sizes()
    if (sizes == 0).any():
        empty = int(np.flatnonzero(sizes == 0)[0])
        raise DataError(
            f"instance {partition.names[empty]} would hold no user ({how} partition of "
            f"{len(assigned)} users into {n_instances} instances)",
            hint="use fewer --instances, or give users an instance column",
        )
    return partition
