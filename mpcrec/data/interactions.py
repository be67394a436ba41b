"""The interaction table every loader produces and every model consumes.

Users and items are re-indexed densely (``0..n_users-1``, ``0..n_items-1``); the external
identifiers (MovieLens ids, PeerTube video URLs/UUIDs) are kept beside them so results
can be mapped back. Items are the federation-wide catalogue (public); users are private
to the instance that owns them.
"""

from __future__ import annotations

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
