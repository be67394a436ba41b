"""The interaction table every loader produces and every model consumes.

Users and items are re-indexed densely (``0..n_users-1``, ``0..n_items-1``); the external
identifiers (MovieLens ids, PeerTube video URLs/UUIDs) are kept beside them so results
can be mapped back. Items are the federation-wide catalogue (public); users are private
to the instance that owns them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ItemMeta:
    """Public metadata of one item (video): what PeerTube's related-videos logic uses."""

    title: str
    tags: tuple[str, ...]
    published: float  # a sortable publication time (MovieLens: release year)


@dataclass(frozen=True)
class Interactions:
    """Implicit-feedback interactions: one row per (user, item) event.

    Attributes
    ----------
    users, items:
        Dense indices, ``int64``, same length.
    timestamps:
        Event times (seconds), ``float64``; used for the temporal split.
    weights:
        Implicit-feedback strength (1.0 by default), ``float32``.
    user_ids, item_ids:
        External identifiers, indexed by the dense indices.
    user_instance:
        Optional instance label per user (from an ``instance`` column), ``None`` otherwise.
    user_attribute:
        Optional attribute per user used for non-IID partitioning (MovieLens: zip code).
    item_meta:
        Optional public metadata per item (title, tags, publication time).
    """

    users: IntArray
    items: IntArray
    timestamps: FloatArray
    weights: Float32Array
    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    user_instance: tuple[str, ...] | None = None
    user_attribute: tuple[str, ...] | None = None
    item_meta: tuple[ItemMeta, ...] | None = field(default=None, repr=False)

    @property
    def n_users(self) -> int:
        """Number of distinct users."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of distinct items (the catalogue)."""
        return len(self.item_ids)

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @classmethod
    def from_columns(
        cls,
        users: Sequence[str],
        items: Sequence[str],
        timestamps: npt.ArrayLike,
        *,
        weights: npt.ArrayLike | None = None,
        catalogue: Sequence[str] | None = None,
        user_instance: Mapping[str, str] | None = None,
        user_attribute: Mapping[str, str] | None = None,
        item_meta: Mapping[str, ItemMeta] | None = None,
    ) -> Interactions:
        """Build a table from external identifiers, re-indexing users and items densely.

        Parameters
        ----------
        users, items, timestamps:
            One entry per event (external ids as strings, times in seconds).
        weights:
            Implicit-feedback strength per event (default 1.0).
        catalogue:
            Every known item id (items nobody interacted with included); defaults to the
            items seen in ``items``. Every id in ``items`` must be in it.
        user_instance, user_attribute:
            Per-user labels keyed by external user id (every user must have one).
        item_meta:
            Public metadata keyed by external item id (every catalogue item must have one).

        Notes
        -----
        Ids are ordered numerically when they are all decimal integers (MovieLens ``1`` maps
        to index 0), otherwise lexicographically, so the indexing does not depend on row order.
        """
        user_ids = _ordered_ids(set(users))
        item_ids = _ordered_ids(set(catalogue) if catalogue is not None else set(items))
        user_index = {uid: k for k, uid in enumerate(user_ids)}
        item_index = {iid: k for k, iid in enumerate(item_ids)}
        n = len(users)
        w = np.ones(n, np.float32) if weights is None else np.asarray(weights, np.float32)
        return cls(
            users=np.fromiter((user_index[u] for u in users), np.int64, count=n),
            items=np.fromiter((item_index[i] for i in items), np.int64, count=n),
            timestamps=np.asarray(timestamps, np.float64).reshape(n),
            weights=w.reshape(n),
            user_ids=user_ids,
            item_ids=item_ids,
            user_instance=None
            if user_instance is None
            else tuple(user_instance[u] for u in user_ids),
            user_attribute=None
            if user_attribute is None
            else tuple(user_attribute[u] for u in user_ids),
            item_meta=None if item_meta is None else tuple(item_meta[i] for i in item_ids),
        )

    def counts_per_user(self) -> IntArray:
        """Number of events of every user (length ``n_users``)."""
        return np.bincount(self.users, minlength=self.n_users).astype(np.int64)


def _ordered_ids(ids: set[str]) -> tuple[str, ...]:
    """Order ids numerically when all are decimal integers, else lexicographically."""
    if ids and all(i.isdecimal() for i in ids):
        return tuple(sorted(ids, key=int))
    return tuple(sorted(ids))
