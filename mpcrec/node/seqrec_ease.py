"""EASE's item-to-item term served beside ``seqrec`` at the viewer's instance (issue 16).

The federation releases the summed co-view Gram ``G`` (:mod:`mpcrec.secure.count_sum`);
every node solves EASE's ``B`` from it (:func:`mpcrec.model.item_gram.ease_weights`, public
arithmetic). A viewer's EASE scores are ``x_u B``, ``x_u`` their own history at this
instance (computed when the snapshot is built, like their ``seqrec`` representation, and
never sent anywhere); an anonymous viewer of video ``v`` is ``e_v B``, the row ``B[v]``; a
logged-in viewer of ``v`` is ``(x_u + e_v) B``. The served score is
:func:`mpcrec.model.seq_ensemble.mixed` of ``seqrec``'s scores and EASE's with the
:class:`~mpcrec.model.item_gram.EaseConfig`'s weights, as the simulation's
``seq_fed_ease`` mixes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mpcrec.errors import DataError
from mpcrec.model.item_gram import EaseConfig
from mpcrec.model.seq_ensemble import mixed

Float32Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class EaseTerm:
    """``B`` and each local viewer's ``x_u B``, with the mix's EASE shares.

    Attributes
    ----------
    weights:
        EASE's ``B``, ``(n_items, n_items)``, zero diagonal.
    viewers:
        ``x_u B`` of every local user with a history here.
    share, anonymous_share:
        EASE's share of a logged-in and of an anonymous viewer's mixed scores.
    """

    weights: Float32Array = field(repr=False)
    viewers: Mapping[int, Float32Array] = field(repr=False)
    share: float
    anonymous_share: float

    @classmethod
    def build(
        cls, weights: npt.ArrayLike, history: Mapping[int, IntArray], config: EaseConfig
    ) -> EaseTerm:
        """The term of ``B = weights`` for local users with ``history`` (item rows)."""
        b = np.asarray(weights, dtype=np.float32)
        if b.ndim != 2 or b.shape[0] != b.shape[1] or not np.all(np.isfinite(b)):
            raise DataError(f"EASE weights of shape {b.shape} are not a finite square matrix")
        viewers = {}
        for user, rows in history.items():
            items = np.unique(np.asarray(rows, np.int64))
            if items.size:
                viewers[int(user)] = np.asarray(b[items].sum(axis=0), dtype=np.float32)
        return cls(b, viewers, config.weight, config.anonymous_weight)

    def personal(self, seq_scores: npt.ArrayLike, user: int) -> Float32Array:
        """A logged-in viewer's mixed scores (``seqrec``'s with ``x_u B``)."""
        return self._mix(seq_scores, self.viewers[user], self.share)

    def related(self, seq_scores: npt.ArrayLike, item: int, user: int | None) -> Float32Array:
        """The mixed scores next to video ``item``: ``e_v B`` for an anonymous viewer,
        ``(x_u + e_v) B`` for a logged-in one with a history here."""
        ease = self.weights[item]
        if user is not None and user in self.viewers:
            return self._mix(seq_scores, self.viewers[user] + ease, self.share)
        return self._mix(seq_scores, ease, self.anonymous_share)

    @staticmethod
    def _mix(seq_scores: npt.ArrayLike, ease: npt.ArrayLike, share: float) -> Float32Array:
        parts = [np.asarray(seq_scores, np.float64)[None], np.asarray(ease, np.float64)[None]]
        return np.asarray(mixed(parts, (1.0 - share, share))[0], dtype=np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """What a snapshot file keeps of the term (:meth:`restore` reads it back)."""
        users = sorted(self.viewers)
        n = self.weights.shape[0]
        return {
            "ease_weights": self.weights,
            "ease_shares": np.asarray([self.share, self.anonymous_share], np.float64),
            "ease_users": np.asarray(users, np.int64),
            "ease_viewers": np.stack([self.viewers[u] for u in users])
            if users
            else np.zeros((0, n), np.float32),
        }

    @classmethod
    def restore(cls, extra: Mapping[str, np.ndarray]) -> EaseTerm | None:
        """The term :meth:`arrays` wrote (``None`` when the snapshot has none)."""
        if "ease_weights" not in extra:
            return None
        share, anonymous = (float(v) for v in extra["ease_shares"])
        users = extra["ease_users"].tolist()
        viewers = dict(zip(users, extra["ease_viewers"].astype(np.float32), strict=True))
        return cls(extra["ease_weights"].astype(np.float32), viewers, share, anonymous)
