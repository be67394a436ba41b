"""Serving the order-aware model ``seqrec``: a viewer is their recent items, not a parameter.

A :class:`SeqSnapshot` is a :class:`~mpcrec.node.recommender.ModelSnapshot` whose item
embeddings are ``seqrec``'s ``V`` and whose "user embeddings" are each local user's
representation ``h`` (:meth:`~mpcrec.model.seqrec.SeqModel.viewers` of their most recent
items at this instance, newest first), computed when the snapshot is built and never
stored beyond it. So the personal list (``userId``) is the base class's ``V @ h``, exactly
:meth:`~mpcrec.model.seqrec.SeqModel.scores`. Related videos (``videoId``) are the model's
next-video scores from the current video: an anonymous viewer is the current video alone
(:meth:`~mpcrec.model.seqrec.SeqModel.related`); a logged-in viewer is the current video
followed by their own recent items (as if they had just watched it). The current video is
never returned; content rules and what the user has seen are applied as for every snapshot.
With an :class:`~mpcrec.node.seqrec_ease.EaseTerm` (the federation's EASE ``B``) both lists
are ``seqrec``'s scores mixed with EASE's (``x_u B``, ``e_v B``), as ``seq_fed_ease`` mixes
them in the simulation.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mpcrec.model.item_gram import EaseConfig
from mpcrec.model.seqrec import SeqConfig, SeqModel, _recent
from mpcrec.node.recommender import ModelSnapshot, Recommendation
from mpcrec.node.seqrec_ease import EaseTerm
from mpcrec.node.snapshot_file import extra_arrays, load_snapshot, save_snapshot

IntArray = npt.NDArray[np.int64]


def context_width(model: SeqModel) -> int:
    """Columns of a context row the model reads (``width`` where the config has one)."""
    return int(getattr(model.config, "width", model.config.context))


@dataclass(frozen=True, eq=False)
class SeqSnapshot(ModelSnapshot):
    """A snapshot of a ``seqrec`` model (see the module docstring).

    Attributes
    ----------
    model:
        The global ``(E, V)`` and their config.
    recent:
        Each local user's recent item rows, newest first, ``-1`` padded.
    ease:
        EASE's term mixed into both lists (``None``: ``seqrec`` alone).
    """

    model: SeqModel | None = None
    recent: Mapping[int, IntArray] = field(default_factory=dict)
    ease: EaseTerm | None = None

    @classmethod
    def from_model(
        cls,
        model: SeqModel,
        *,
        version: str,
        item_urls: Sequence[str],
        history: Mapping[int, Sequence[str]],
        popularity: npt.ArrayLike,
        item_uuids: Sequence[str] | None = None,
        local_users: Iterable[int] | None = None,
        seen: Mapping[int, Iterable[str]] | None = None,
        hidden: Iterable[str] = (),
        nsfw: Iterable[str] = (),
        shows_nsfw: Iterable[int] = (),
        ease_weights: npt.ArrayLike | None = None,
        ease: EaseConfig | None = None,
    ) -> SeqSnapshot:
        """The snapshot of ``model`` for local users with ``history`` (URLs, oldest first);
        ``local_users`` (default: those of ``history``) may include users without one (the
        popular fallback), ``seen`` (default: ``history``) what is never recommended;
        ``ease_weights`` (EASE's ``B``) mixed in with ``ease``'s shares, if given."""
        index = {url: k for k, url in enumerate(item_urls)}
        width = context_width(model)
        rows_of = {
            int(u): np.asarray([index[v] for v in h if v in index], np.int64)
            for u, h in history.items()
        }
        term = None
        if ease_weights is not None:
            term = EaseTerm.build(ease_weights, rows_of, ease or EaseConfig())
        recent = {u: _recent(rows, width) for u, rows in rows_of.items()}
        with_history = {u: row for u, row in recent.items() if row[0] >= 0}
        users = sorted(with_history)
        rows = np.stack([with_history[u] for u in users]) if users else np.zeros((0, width))
        h = model.viewers(rows.astype(np.int64))[0] if users else np.zeros((0, model.config.dim))
        base = ModelSnapshot.build(
            version=version,
            item_urls=item_urls,
            item_uuids=item_uuids if item_uuids is not None else item_urls,
            item_embeddings=model.item_emb,
            user_embeddings={u: h[k] for k, u in enumerate(users)},
            popularity=popularity,
            local_users=history.keys() if local_users is None else local_users,
            seen=history if seen is None else seen,
            hidden=hidden,
            nsfw=nsfw,
            shows_nsfw=shows_nsfw,
        )
        fields = {name: getattr(base, name) for name in _BASE_FIELDS}
        return cls(**fields, model=model, recent=with_history, ease=term)

    def save(self, path: Path) -> None:
        """Write the snapshot atomically, with ``E``, the config and the recent items
        (:func:`load_any` reads it back as a :class:`SeqSnapshot`)."""
        assert self.model is not None
        users = sorted(self.recent)
        width = context_width(self.model)
        rows = [self.recent[u] for u in users]
        config = json.dumps(dataclasses.asdict(self.model.config), sort_keys=True)
        extra: dict[str, np.ndarray] = {
            "seqrec_config": np.frombuffer(config.encode(), np.uint8),
            "seqrec_context_emb": self.model.context_emb,
            "seqrec_item_emb": self.model.item_emb,
            "seqrec_users": np.asarray(users, np.int64),
            "seqrec_recent": np.stack(rows) if rows else np.zeros((0, width), np.int64),
        }
        if self.ease is not None:
            extra |= {f"seqrec_{name}": a for name, a in self.ease.arrays().items()}
        save_snapshot(self, path, extra)

    @classmethod
    def restore(cls, fields: dict[str, Any], extra: Mapping[str, np.ndarray]) -> SeqSnapshot:
        """The snapshot :meth:`save` wrote (``fields``: the base snapshot's)."""
        config = SeqConfig(**json.loads(bytes(extra["seqrec_config"].tobytes()).decode()))
        model = SeqModel(
            context_emb=extra["seqrec_context_emb"].astype(np.float64),
            item_emb=extra["seqrec_item_emb"].astype(np.float64),
            config=config,
        )
        users = extra["seqrec_users"].tolist()
        recent = dict(zip(users, extra["seqrec_recent"].astype(np.int64), strict=True))
        ease = EaseTerm.restore(
            {k.removeprefix("seqrec_"): v for k, v in extra.items() if k.startswith("seqrec_ease")}
        )
        return cls(**fields, model=model, recent=recent, ease=ease)

    def recommend(self, user_id: int, count: int) -> Recommendation:
        """Top ``count`` unseen videos for a local user: ``seqrec``'s scores from their
        recent items, mixed with their ``x_u B`` when the snapshot has EASE's term (see
        :meth:`ModelSnapshot.recommend` for the errors and the popular fallback)."""
        viewers = {} if self.ease is None else self.ease.viewers
        if user_id not in self.local_users or user_id not in viewers:
            return super().recommend(user_id, count)  # the errors, the popular fallback
        h = self.user_embeddings[self._user_row[user_id]]
        seq = np.einsum("ij,j->i", self.item_embeddings, h)
        assert self.ease is not None
        return self._top(user_id, count, self._close(self.ease.personal(seq, user_id), user_id))

    def related(self, video_uuid: str, count: int, user_id: int | None = None) -> Recommendation:
        """What to watch after ``video_uuid``: the model's scores from the current video
        (and, for a local ``user_id``, their recent items after it).

        Raises
        ------
        UnknownVideo
            If no catalogue row has that UUID.
        UnknownUser
            If ``user_id`` is given and is not a local user of the instance.
        """
        assert self.model is not None
        item = self._related_row(video_uuid, user_id)
        before = self.recent.get(user_id, np.zeros(0, np.int64)) if user_id is not None else None
        if before is None:
            scores = self.model.related(np.asarray([item], np.int64))[0]
        else:
            width = context_width(self.model)
            row = np.concatenate([[item], before[before >= 0]])[:width]
            context = np.full((1, width), -1, np.int64)
            context[0, : row.shape[0]] = row
            scores = self.model.scores(context)[0]
        if self.ease is not None:
            scores = self.ease.related(scores, item, user_id)
        scores = scores.astype(np.float32)
        scores[item] = -np.inf
        return self._top(user_id, count, self._close(scores, user_id))


def load_any(path: Path) -> ModelSnapshot:
    """The snapshot file at ``path`` as the kind that wrote it: a :class:`SeqSnapshot` when
    it holds ``seqrec``'s arrays, else a :class:`ModelSnapshot` (``mpcrec serve``)."""
    extra = extra_arrays(path)
    if extra:
        return SeqSnapshot.restore(load_snapshot(path), extra)
    return ModelSnapshot.load(path)


_BASE_FIELDS = (
    "version",
    "item_urls",
    "item_uuids",
    "item_embeddings",
    "user_ids",
    "user_embeddings",
    "popularity",
    "local_users",
    "seen",
    "hidden",
    "nsfw",
    "shows_nsfw",
)
