"""Recommendations for one instance's users from the federation's model: scoring and snapshots.

A :class:`ModelSnapshot` is everything serving needs, frozen: the catalogue (video URLs and
UUIDs), the global item embeddings (public, from the federation), the private embeddings
of this instance's users keyed by PeerTube user id, the federation's popularity of each
video, the instance's local users and the videos each has already seen (watched, rated
or saved). A user's score for every video is ``item_embeddings @ user_embedding``; seen
videos are excluded and the top ``count`` found with :func:`numpy.argpartition` (linear
time) before only those are sorted. The product is :func:`numpy.einsum`, which runs on the
calling thread, not ``@``: OpenBLAS would spread a 100,000 x 32 product over every core,
and on a busy 2-core machine (a node also trains) its threads wait on each other, which
measured here p99 56 ms for ``@`` against 5 ms single-threaded.

A local user without an embedding (new since the last round, or too few interactions to
train) gets the most popular unseen videos instead, marked ``fallback = "popular"``.

The :class:`Recommender` holds the current snapshot; the node daemon calls
:meth:`Recommender.publish` when a round publishes a new model. A swap is one reference
assignment under a lock, so a request is served entirely by the old or the new snapshot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mpcrec.errors import DataError, UserError
from mpcrec.node.snapshot_file import load_snapshot, save_snapshot

Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
MAX_COUNT = 100  # PeerTube's own maximum page size (PAGINATION.GLOBAL.COUNT.MAX)
PERSONAL_BLEND = 0.3  # weight of the user's taste in related videos when a user is given


class UnknownUser(UserError):
    """The user id is not a local user of this instance."""


class UnknownVideo(UserError):
    """The video is not in the federation's catalogue (or has no UUID there)."""


class NotReady(Exception):
    """No model snapshot has been published yet."""


@dataclass(frozen=True)
class RecommendedVideo:
    """One recommended video, named federation-wide."""

    uuid: str
    url: str
    score: float


@dataclass(frozen=True)
class Recommendation:
    """The answer for one user: videos best first, and whether they are the popular fallback."""

    user_id: int | None
    videos: tuple[RecommendedVideo, ...]
    fallback: str | None
    model_version: str


@dataclass(frozen=True, eq=False)
class ModelSnapshot:
    """The model and local data one recommendation is computed from (see the module docstring).

    Attributes
    ----------
    version:
        The model version (e.g. the round that published it).
    item_urls, item_uuids:
        The catalogue, one entry per row of ``item_embeddings``.
    item_embeddings:
        ``float32 (n_items, dim)``, global.
    user_ids:
        PeerTube user ids that have an embedding, ``int64 (n_users,)``.
    user_embeddings:
        ``float32 (n_users, dim)``, private to the instance.
    popularity:
        ``float32 (n_items,)``, the federation's popularity score of each video.
    local_users:
        Every local user of the instance (with or without an embedding).
    seen:
        Item indices each local user has seen (or muted), never recommended to them.
    hidden:
        Item indices never recommended to anyone (PeerTube's content rules:
        :mod:`mpcrec.data.peertube_rules`).
    nsfw:
        Item indices of NSFW videos, left out except for the users of ``shows_nsfw``
        (anonymous viewers never get them).
    shows_nsfw:
        Local users whose NSFW policy lists NSFW videos.
    """

    version: str
    item_urls: tuple[str, ...]
    item_uuids: tuple[str, ...]
    item_embeddings: Float32Array
    user_ids: IntArray
    user_embeddings: Float32Array
    popularity: Float32Array
    local_users: frozenset[int]
    seen: Mapping[int, IntArray] = field(default_factory=dict)
    hidden: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    nsfw: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    shows_nsfw: frozenset[int] = frozenset()
    _user_row: dict[int, int] = field(init=False, repr=False)
    _popular_order: IntArray = field(init=False, repr=False)
    _uuid_row: dict[str, int] = field(init=False, repr=False)
    _unit_items: Float32Array = field(init=False, repr=False)
    _closed: npt.NDArray[np.bool_] = field(init=False, repr=False)  # hidden, for everyone
    _closed_nsfw: npt.NDArray[np.bool_] = field(init=False, repr=False)  # hidden or NSFW

    def __post_init__(self) -> None:
        n_items, dim = self.item_embeddings.shape
        problems = [
            (len(self.item_urls) != n_items, f"{len(self.item_urls)} urls for {n_items} items"),
            (len(self.item_uuids) != n_items, f"{len(self.item_uuids)} uuids for {n_items} items"),
            (self.popularity.shape != (n_items,), f"popularity of shape {self.popularity.shape}"),
            (
                self.user_embeddings.shape != (len(self.user_ids), dim),
                f"user embeddings of shape {self.user_embeddings.shape}, expected "
                f"({len(self.user_ids)}, {dim})",
            ),
            (self.item_embeddings.dtype != np.float32, "item embeddings are not float32"),
            (self.user_embeddings.dtype != np.float32, "user embeddings are not float32"),
            (not bool(np.isfinite(self.item_embeddings).all()), "non-finite item embeddings"),
            (not bool(np.isfinite(self.user_embeddings).all()), "non-finite user embeddings"),
            (not bool(np.isfinite(self.popularity).all()), "non-finite popularity"),
        ]
        wrong = [message for bad, message in problems if bad]
        if wrong:
            raise DataError(f"inconsistent model snapshot {self.version!r}: {'; '.join(wrong)}")
        object.__setattr__(self, "_user_row", {int(u): k for k, u in enumerate(self.user_ids)})
        order = np.argsort(-self.popularity, kind="stable").astype(np.int64)
        object.__setattr__(self, "_popular_order", order)
        object.__setattr__(self, "_uuid_row", {u: k for k, u in enumerate(self.item_uuids) if u})
        object.__setattr__(self, "_unit_items", _unit_rows(self.item_embeddings))
        closed = np.zeros(n_items, np.bool_)
        closed[self.hidden] = True
        object.__setattr__(self, "_closed", closed)
        with_nsfw = closed.copy()
        with_nsfw[self.nsfw] = True
        object.__setattr__(self, "_closed_nsfw", with_nsfw)

    @property
    def n_items(self) -> int:
        """Size of the catalogue."""
        return len(self.item_urls)

    @classmethod
    def build(
        cls,
        *,
        version: str,
        item_urls: Sequence[str],
        item_uuids: Sequence[str],
        item_embeddings: npt.ArrayLike,
        user_embeddings: Mapping[int, npt.ArrayLike],
        popularity: npt.ArrayLike,
        local_users: Iterable[int],
        seen: Mapping[int, Iterable[str]] | None = None,
        hidden: Iterable[str] = (),
        nsfw: Iterable[str] = (),
        shows_nsfw: Iterable[int] = (),
    ) -> ModelSnapshot:
        """Assemble a snapshot from per-user embeddings and video URLs (seen, hidden, NSFW).

        URLs outside the catalogue are ignored (they cannot be recommended anyway).
        """
        index = {url: k for k, url in enumerate(item_urls)}

        def indices(urls: Iterable[str]) -> IntArray:
            return np.fromiter(sorted({index[url] for url in urls if url in index}), np.int64)

        users = sorted(user_embeddings)
        items = np.asarray(item_embeddings, np.float32)
        rows = [np.asarray(user_embeddings[u], np.float32) for u in users]
        return cls(
            version=version,
            item_urls=tuple(item_urls),
            item_uuids=tuple(item_uuids),
            item_embeddings=np.ascontiguousarray(items),
            user_ids=np.asarray(users, np.int64),
            user_embeddings=np.stack(rows) if rows else np.zeros((0, items.shape[1]), np.float32),
            popularity=np.asarray(popularity, np.float32),
            local_users=frozenset(int(u) for u in local_users),
            seen={int(user): indices(urls) for user, urls in (seen or {}).items()},
            hidden=indices(hidden),
            nsfw=indices(nsfw),
            shows_nsfw=frozenset(int(u) for u in shows_nsfw),
        )

    def recommend(self, user_id: int, count: int) -> Recommendation:
        """Top ``count`` unseen videos for a local user (popular ones if the model lacks them).

        Raises
        ------
        UnknownUser
            If ``user_id`` is not a local user of the instance.
        """
        if user_id not in self.local_users:
            raise UnknownUser(
                f"user {user_id} is not a local user of this instance",
                hint="userId must be the id of a PeerTube user of this instance",
            )
        row = self._user_row.get(user_id)
        if row is None:
            return self._popular(user_id, count, self._excluded(user_id))
        scores = np.einsum("ij,j->i", self.item_embeddings, self.user_embeddings[row])
        return self._top(user_id, count, self._close(scores, user_id))

    def _related_row(self, video_uuid: str, user_id: int | None) -> int:
        """The model row of ``video_uuid``, once ``user_id`` (if given) is known to be local.

        Raises
        ------
        UnknownVideo
            If no catalogue row has that UUID.
        UnknownUser
            If ``user_id`` is given and is not a local user of the instance.
        """
        item = self._uuid_row.get(video_uuid)
        if item is None:
            raise UnknownVideo(
                f"video {video_uuid} is not in the federation's catalogue",
                hint="show PeerTube's own list for videos the model does not know",
            )
        if user_id is not None and user_id not in self.local_users:
            raise UnknownUser(f"user {user_id} is not a local user of this instance")
        return item

    def related(self, video_uuid: str, count: int, user_id: int | None = None) -> Recommendation:
        """Videos to show next to ``video_uuid``: item-to-item from the shared model.

        The score is the cosine of the item embeddings; with ``user_id`` (a local user)
        it is blended with the cosine to the user's embedding (weight
        :data:`PERSONAL_BLEND`) and the user's seen videos are left out. The video itself
        is never returned.

        Raises
        ------
        UnknownVideo
            If no catalogue row has that UUID.
        UnknownUser
            If ``user_id`` is given and is not a local user of the instance.
        """
        item = self._related_row(video_uuid, user_id)
        query = self._unit_items[item]
        row = None if user_id is None else self._user_row.get(user_id)
        if row is not None:
            user = self.user_embeddings[row]
            norm = float(np.linalg.norm(user))
            if norm > 0:  # the blend is linear: one product with the blended query
                query = (1 - PERSONAL_BLEND) * query + (PERSONAL_BLEND / norm) * user
        scores = np.einsum("ij,j->i", self._unit_items, query.astype(np.float32, copy=False))
        scores[item] = -np.inf
        return self._top(user_id, count, self._close(scores, user_id))

    def _close(self, scores: Float32Array, user_id: int | None) -> Float32Array:
        """``scores`` (in place) with every video ``user_id`` must not get at ``-inf``: the
        content rules (masks built once per snapshot) and what the user has seen."""
        closed = self._closed if user_id in self.shows_nsfw else self._closed_nsfw
        np.copyto(scores, np.float32(-np.inf), where=closed)
        if user_id is not None:
            seen = self.seen.get(user_id)
            if seen is not None and len(seen):
                scores[seen] = -np.inf
        return scores

    def _excluded(self, user_id: int | None) -> IntArray:
        """Item rows never shown to ``user_id`` (``None``: an anonymous viewer), sorted."""
        parts = [self.hidden]
        if user_id is not None:
            parts.append(self.seen.get(user_id, self.hidden[:0]))
        if user_id not in self.shows_nsfw:
            parts.append(self.nsfw)
        return np.unique(np.concatenate(parts)) if len(parts) > 1 else self.hidden

    def _top(self, user_id: int | None, count: int, scores: Float32Array) -> Recommendation:
        """The ``count`` best finite scores, best first (fewer if fewer videos are open)."""
        n = self.n_items
        k = min(count, n)
        top = np.argpartition(scores, n - k)[n - k :] if k < n else np.arange(n)
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[np.isfinite(scores[top])]  # closed videos sort last: drop them
        return Recommendation(user_id, self._videos(top, scores), None, self.version)

    def _popular(self, user_id: int, count: int, seen: IntArray) -> Recommendation:
        order = self._popular_order
        if len(seen):
            order = order[: count + len(seen)]
            order = order[~np.isin(order, seen)]
        top = order[:count]
        return Recommendation(user_id, self._videos(top, self.popularity), "popular", self.version)

    def _videos(self, top: IntArray, scores: Float32Array) -> tuple[RecommendedVideo, ...]:
        return tuple(
            RecommendedVideo(self.item_uuids[i], self.item_urls[i], float(scores[i]))
            for i in top.tolist()
        )

    def save(self, path: Path) -> None:
        """Write the snapshot to ``path`` atomically (``.npz``, no pickles)."""
        save_snapshot(self, path)

    @classmethod
    def load(cls, path: Path) -> ModelSnapshot:
        """Read a snapshot written by :meth:`save` (see :mod:`mpcrec.node.snapshot_file`;
        any model kind's: :func:`mpcrec.node.seqrec_serving.load_any`)."""
        return cls(**load_snapshot(path))


def _unit_rows(matrix: Float32Array) -> Float32Array:
    """Rows scaled to unit length (zero rows stay zero), for cosine scores."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.ascontiguousarray(matrix / np.where(norms > 0, norms, 1), dtype=np.float32)


class Recommender:
    """The snapshot currently served, swapped atomically when a new model is published."""

    def __init__(self, snapshot: ModelSnapshot | None = None) -> None:
        self._lock = threading.Lock()
        self._snapshot = snapshot

    @property
    def snapshot(self) -> ModelSnapshot | None:
        """The snapshot in service (``None`` before the first publish)."""
        with self._lock:
            return self._snapshot

    def publish(self, snapshot: ModelSnapshot) -> None:
        """Serve ``snapshot`` from now on; requests in flight finish on the old one."""
        with self._lock:
            self._snapshot = snapshot

    def recommend(self, user_id: int, count: int) -> Recommendation:
        """Recommend from the current snapshot; :class:`NotReady` before the first publish."""
        return self._current().recommend(user_id, count)

    def related(self, video_uuid: str, count: int, user_id: int | None = None) -> Recommendation:
        """:meth:`ModelSnapshot.related` on the current snapshot (:class:`NotReady` before one)."""
        return self._current().related(video_uuid, count, user_id)

    def _current(self) -> ModelSnapshot:
        snapshot = self.snapshot
        if snapshot is None:
            raise NotReady("no model published yet")
        return snapshot
