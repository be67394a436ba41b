"""Partitioning users into instances, the way a federation of PeerTube servers holds them.

Three ways, tried in this order by :func:`partition_users`:

1. **By label**: the table's ``user_instance`` column (the file said where each user lives).
2. **Non-IID by attribute** (MovieLens: zip code): users are grouped by the first
   ``prefix`` characters of the attribute (a region), the groups are shuffled under the
   seed and dealt, largest first, to the instance furthest below its Zipf target size.
   An instance so holds whole regions (non-IID), and instance sizes are skewed.
3. **By hash**: each user goes to the Zipf-weighted bucket its seeded hash falls in.

For benchmarks whose instances must differ (communities), :func:`by_community` cuts
instances of EXACT Zipf sizes out of the users ordered by a community label (an occupation,
an age band, or a taste cluster from :func:`taste_labels`, which reads only the training
interactions it is given).

Zipf target sizes: instance ``k`` (0-based) gets a share proportional to
``1 / (k + 1) ** exponent``, like the few large and many small real instances.
Everything is deterministic under ``seed``. An empty instance is an error.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
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
        ``"label"``, ``"attribute"``, ``"hash"`` or ``"community"``.
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


def zipf_sizes(n_users: int, n_instances: int, exponent: float = ZIPF_EXPONENT) -> IntArray:
    """Exact Zipf instance sizes summing to ``n_users`` (largest remainder, each >= 1)."""
    if not 1 <= n_instances <= n_users:
        raise DataError(
            f"{n_instances} instances for {n_users} users: need 1 <= instances <= users"
        )
    ideal = zipf_shares(n_instances, exponent) * n_users
    sizes: IntArray = np.maximum(np.floor(ideal).astype(np.int64), 1)
    order = np.argsort(-(ideal - np.floor(ideal)), kind="stable")
    for k in order[: max(0, n_users - int(sizes.sum()))]:
        sizes[k] += 1
    while sizes.sum() > n_users:  # the >= 1 floor overshot: take from the largest
        sizes[int(np.argmax(sizes))] -= 1
    return sizes


def by_community(labels: Sequence[str], n_instances: int, *, seed: int) -> Partition:
    """Instances of exact Zipf sizes (:func:`zipf_sizes`), cut from users in community order.

    The communities (distinct ``labels``) are put in a seeded order, their users shuffled
    within each; instance 0 (the largest) takes the first users, instance 1 the next, and so
    on. An instance so holds one community, a part of one, or the tail of one and the head
    of the next: communities larger than an instance span several, smaller ones share one.
    """
    if any(not label.strip() for label in labels):
        raise DataError("a user has an empty community label", hint="label every user")
    rng = np.random.default_rng(seed)
    groups: dict[str, list[int]] = defaultdict(list)
    for user, label in enumerate(labels):
        groups[label].append(user)
    keys = sorted(groups)
    ordered = [
        user for k in rng.permutation(len(keys)) for user in rng.permutation(groups[keys[k]])
    ]
    sizes = zipf_sizes(len(labels), n_instances)
    assigned = np.empty(len(labels), dtype=np.int64)
    assigned[np.asarray(ordered, dtype=np.int64)] = np.repeat(np.arange(n_instances), sizes)
    return _named(assigned, n_instances, "community")


def taste_labels(
    train: Interactions, n_clusters: int, *, seed: int, rounds: int = 50
) -> tuple[str, ...]:
    """Each user's taste cluster: seeded k-means (k-means++ start) on genre shares.

    A user's genre shares are the fractions of their ``train`` events in each genre (an item
    of ``g`` genres counts ``1/g`` to each; the genres are the items' public tags). Only
    ``train``'s rows are read: pass the training interactions (no held-out item) so the
    partition leaks nothing of what it is evaluated on.

    Raises
    ------
    DataError
        Without item metadata, or with fewer users than clusters.
    """
    if train.item_meta is None or not 1 <= n_clusters <= train.n_users:
        raise DataError(
            f"taste clusters need item genres and 1 <= {n_clusters} clusters <= users",
            hint="use a dataset with item metadata (ML-100k's genres)",
        )
    genres = sorted({g for meta in train.item_meta for g in meta.tags})
    column = {g: j for j, g in enumerate(genres)}
    item_genre = np.zeros((train.n_items, len(genres)))
    for i, meta in enumerate(train.item_meta):
        for g in meta.tags:
            item_genre[i, column[g]] = 1.0 / len(meta.tags)
    shares = np.zeros((train.n_users, len(genres)))
    np.add.at(shares, train.users, item_genre[train.items])
    shares /= np.maximum(shares.sum(axis=1, keepdims=True), 1e-12)
    labels = _kmeans(shares, n_clusters, np.random.default_rng(seed), rounds)
    return tuple(f"taste-{c:02d}" for c in labels)


def _kmeans(points: np.ndarray, k: int, rng: np.random.Generator, rounds: int) -> IntArray:
    """Lloyd's k-means from a k-means++ start; a cluster left empty keeps its centre."""
    centres = [points[rng.integers(len(points))]]
    for _ in range(k - 1):
        d2 = ((points[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1).min(axis=1)
        total = d2.sum()
        p = d2 / total if total > 0 else None
        centres.append(points[rng.choice(len(points), p=p)])
    c = np.asarray(centres)
    labels = np.zeros(len(points), dtype=np.int64)
    for _ in range(rounds):
        labels = ((points[:, None, :] - c[None]) ** 2).sum(-1).argmin(axis=1).astype(np.int64)
        moved = c.copy()
        for j in range(k):
            if (labels == j).any():
                moved[j] = points[labels == j].mean(axis=0)
        if np.allclose(moved, c):
            break
        c = moved
    return labels
