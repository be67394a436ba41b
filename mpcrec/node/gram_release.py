"""A node's EASE term from the released Gram (issue 16): the slices, rebuilt and solved.

Model versions ``1 .. S`` of a federation with a Gram release (``ease_*`` round
parameters, :meth:`RoundParams.gram_slices`) each carry the slice their committee revealed
(``PublishedModel.gram_slice``), checked against the digest the members signed before the
node keeps the model (:mod:`mpcrec.node.model_provenance`, rule ``model-unsigned``). Once
the newest model is at least version ``S`` the node takes the ``S`` slices (fetching any it
does not hold: the launcher keeps them beside their versions), rebuilds the symmetric Gram
(:func:`~mpcrec.model.item_gram.from_triangle`), solves EASE's ``B``
(:func:`~mpcrec.model.item_gram.ease_weights`) once, and its snapshots mix ``x_u B`` /
``e_v B`` with ``seqrec``'s scores (:meth:`SeqrecTrainer.snapshot`). The solve (a
``n_items``-square inverse, seconds) runs on a thread of its own, so the daemon keeps
answering the round's steps (blocked, 20 nodes on one machine missed the beacon windows of
three rounds); the snapshots of later versions take ``B`` once it is there. ``B`` is kept
in memory only: after a restart the node fetches the ``S`` versions again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from mpcrec.errors import ProtocolError
from mpcrec.federation.gram_slice import slice_counts
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.round_params import RoundParams
from mpcrec.model.item_gram import EaseConfig, ease_weights, from_triangle, gram_slices
from mpcrec.model.mf import Matrix

log = logging.getLogger("mpcrec.node")

#: ``fetch(version)``: a published model, checked (the daemon's ``ModelCache.get``).
Fetch = Callable[[int], PublishedModel]


def released_gram(params: RoundParams, fetch: Fetch) -> np.ndarray:
    """The released Gram (int64, symmetric) from model versions ``1 .. S``'s slices
    (:class:`ProtocolError` if one is missing or of the wrong size)."""
    first = fetch(1)
    n_items = first.n_items
    parts = gram_slices(n_items, params.ease_slice_values)
    values = []
    for k, part in enumerate(parts):
        model = first if k == 0 else fetch(k + 1)
        counts = slice_counts(model.gram_slice)
        if counts.size != part.stop - part.start:
            raise ProtocolError(
                f"model v{k + 1}: a Gram slice of {counts.size} counts, expected "
                f"{part.stop - part.start} (slice {k} of {len(parts)})"
            )
        values.append(counts)
    return from_triangle(np.concatenate(values), n_items)


class GramRelease:
    """The EASE term a node serves once the release is complete (module docstring)."""

    def __init__(self) -> None:
        self.params: RoundParams | None = None
        self._solved: tuple[Matrix, EaseConfig] | None = None
        self._solving: threading.Thread | None = None

    def ease(self, version: int, fetch: Fetch | None) -> dict[str, Any]:
        """``SeqrecTrainer.snapshot``'s EASE arguments for model ``version`` (``{}`` without
        a release, before it is complete, or without a way to fetch its slices)."""
        p = self.params
        if p is None or not p.ease or fetch is None:
            return {}
        solved = self._solved
        if solved is None:
            if self._solving is None and version >= p.gram_slices(fetch(1).n_items):
                gram = released_gram(p, fetch)  # here: the fetches are the daemon's
                config = EaseConfig(lam=p.ease_lambda, weight=p.ease_weight)
                self._solving = threading.Thread(
                    target=self._solve, args=(gram, config), name="ease-solve", daemon=True
                )
                self._solving.start()
            return {}
        return {"ease_weights": solved[0], "ease": solved[1]}

    def wait(self, timeout: float | None = None) -> None:
        """Until the solve started by :meth:`ease` is done (tests)."""
        if self._solving is not None:
            self._solving.join(timeout)

    def _solve(self, gram: np.ndarray, config: EaseConfig) -> None:
        self._solved = ease_weights(gram.astype(np.float64), config.lam), config
        log.info("EASE from the released Gram (%d videos, lambda %g)", len(gram), config.lam)
