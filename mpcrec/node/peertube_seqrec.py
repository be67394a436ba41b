"""The ``seqrec`` model trained on an instance's own PeerTube (``trainer: {kind: peertube,
model: seqrec}``).

Everything PeerTube-specific is :class:`~mpcrec.node.peertube_trainer.PeerTubeTrainer`'s:
the refresh of the signals (new and changed rows, deleted rows forgotten, opted-out users
and users with history off never read), the catalogue (a row is one federation-wide video),
the content rules when serving. What differs is the model: each round the signals become
every local user's history in time order (PeerTube's signal times), the examples are
:class:`~mpcrec.model.seqrec.Contexts` of them, and the update is
:class:`~mpcrec.node.seqrec_trainer.SeqrecTrainer`'s (the same local epochs, the delta over
the server step, per-user clipping at user level). Nothing per user is kept between rounds:
a viewer is their recent videos, read again each time (no ``user_emb.npz``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mpcrec.data.split import Split
from mpcrec.model.seqrec import SeqConfig
from mpcrec.model.sequence import histories
from mpcrec.model.tuned_sequence import SEQ_RUNTIME
from mpcrec.node.peertube_trainer import PeerTubeTrainer
from mpcrec.node.seqrec_serving import SeqSnapshot
from mpcrec.node.seqrec_trainer import MODEL_KIND, SeqrecTrainer, to_model
from mpcrec.node.trainer import Matrix


class PeerTubeSeqrecTrainer(PeerTubeTrainer):
    """``seqrec`` on the instance's PeerTube signals (module docstring)."""

    model_kind = MODEL_KIND
    config: SeqConfig = SEQ_RUNTIME

    def _split(self, n_items: int) -> Split:
        """Refresh, and every signal as a training event on its catalogue row (all users
        read, no held-out item: serving, not evaluation)."""
        self._follow_catalogue(n_items)
        self.catalogue.check(n_items)
        self._refresh()
        events = self.source.interactions(catalogue=self.catalogue.urls)
        rows = np.asarray([self.catalogue.index[url] for url in events.item_ids], np.int64)
        train = dataclasses.replace(
            events, items=rows[events.items], item_ids=tuple(self.catalogue.urls), item_meta=None
        )
        none = np.full(train.n_users, -1, np.int64)
        self.counts = np.bincount(train.items, minlength=n_items).astype(np.float64)
        return Split(train=train, valid_item=none, test_item=none)

    def _home(self, n_items: int) -> SeqrecTrainer:
        split = self._split(n_items)
        users = np.arange(split.n_users, dtype=np.int64)
        return SeqrecTrainer(split, users, self.rounds, self.rng, config=self.config)

    def update(  # type: ignore[override]
        self, model: Matrix, version: int, *, server_lr: float = 1.0
    ) -> tuple[Matrix, float]:
        """Refresh, train one round from model ``version`` (:meth:`SeqrecTrainer.update`)."""
        return self._home(model.shape[0]).update(model, version, server_lr=server_lr)

    def update_user_level(
        self,
        model: Matrix,
        version: int,
        *,
        user_rate: float,
        user_clip_norm: float,
        rng: np.random.Generator,
    ) -> Matrix:
        """One user-level round (:meth:`SeqrecTrainer.update_user_level`)."""
        return self._home(model.shape[0]).update_user_level(
            model, version, user_rate=user_rate, user_clip_norm=user_clip_norm, rng=rng
        )

    def snapshot(self, model: Matrix, version: int) -> SeqSnapshot:  # type: ignore[override]
        """What this instance serves from model ``version``: its local users' lists from
        their own recent videos, related videos from the current one, PeerTube's content
        rules (muted accounts and instances count as seen)."""
        split = self._split(model.shape[0])
        train = split.train
        urls = self.catalogue.urls
        history = {
            int(train.user_ids[u]): [urls[i] for i in h.tolist()]
            for u, h in enumerate(histories(train))
        }
        rules = self.source.content_rules()
        seen = {u: set(v) for u, v in self.source.log.seen().items()}
        for user, muted in rules.hidden_for_user.items():
            seen.setdefault(user, set()).update(muted)
        uuids = self.catalogue.uuids
        if not all(uuids):
            known = {v.url: v.uuid for v in self.source.catalogue()}
            uuids = tuple(u or known.get(url, "") for url, u in zip(urls, uuids, strict=True))
        return SeqSnapshot.from_model(
            to_model(model, self.config),
            version=f"v{version}",
            item_urls=urls,
            item_uuids=uuids,
            history=history,
            local_users=self.source.local_users,
            seen={u: sorted(v) for u, v in seen.items()},
            popularity=self.counts,
            hidden=rules.hidden,
            nsfw=rules.nsfw,
            shows_nsfw=rules.shows_nsfw,
        )
