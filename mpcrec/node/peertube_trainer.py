"""An instance trained on its PeerTube: the ``peertube`` trainer of ``mpcrec node``.

Every round the node refreshes its :class:`~mpcrec.node.peertube_source.PeerTubeSource`
(new and changed signal rows since the last read, deleted rows forgotten), maps the videos
onto the federation's catalogue, and trains with
:func:`mpcrec.model.local.local_update`, the same function and settings as the MovieLens
trainer (:mod:`mpcrec.node.movielens_trainer`). User embeddings stay at home: in memory, and in
``state_dir/user_emb.npz`` (mode 0600) so that a restart does not forget them; a user
whose signals are gone (history cleared, account deleted) loses their embedding too, and
so does a user who opted out of training or disabled their PeerTube history
(:mod:`mpcrec.data.peertube_consent`): their signals are never trained on, and their
embedding is dropped from memory and from the file at the next refresh.

The federation's catalogue (which video each row of the model is) is a
:class:`~mpcrec.node.catalogue_file.Catalogue`: ``catalogue.txt`` or the node's verified copy.

Each PeerTube (user, video) pair with a positive signal (:mod:`mpcrec.data.peertube_log`:
watched, liked or saved, not disliked) is one BPR event; the signal weights decide which
pairs train, not how much (the BPR loss of :func:`mpcrec.model.mf.sgd_epoch` has no
per-event weight). The update's public weight is the number of events.

Serving (:meth:`PeerTubeTrainer.snapshot`) refreshes PeerTube once more, so users who
signed up and videos watched since the round's training are known, and ranks the popular
fallback by the federation's learned item bias (the model's last column).
"""

from __future__ import annotations

import dataclasses
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg

from mpcrec.data.catalogue_index import CatalogueIndex
from mpcrec.data.catalogue_merge import InstanceExport
from mpcrec.data.peertube_catalogue import read_export
from mpcrec.errors import ConfigError, DataError
from mpcrec.files import write_atomic
from mpcrec.model.local import InstanceData, LocalConfig, local_update
from mpcrec.model.mf import MFConfig, event_ages, init_embeddings
from mpcrec.model.tuned import FEDAVG
from mpcrec.node.catalogue_file import Catalogue as Catalogue
from mpcrec.node.config import NodeConfig, PeerTubeTrainerConfig
from mpcrec.node.peertube_source import PeerTubeSource, Refresh
from mpcrec.node.recommender import ModelSnapshot
from mpcrec.node.trainer import Matrix
from mpcrec.node.user_dp import user_local

log = logging.getLogger("mpcrec.node.peertube")
USER_FILE = "user_emb.npz"


@dataclass(frozen=True)
class TrainingTable:
    """One round's training events, mapped onto the catalogue."""

    data: InstanceData
    user_ids: tuple[int, ...]  # PeerTube user id of each local user index
    skipped_rows: int  # signal rows on videos the catalogue lacks
    skipped_videos: int


class PeerTubeTrainer:
    """Local training on the instance's PeerTube signals (module docstring).

    Parameters
    ----------
    source:
        The instance's PeerTube.
    catalogue:
        The federation's items.
    rounds:
        The run's length (the local learning rate decays linearly over it).
    seed:
        Seeds the local randomness (event order, negatives, new users' embeddings).
    state_dir:
        Where the user embeddings are kept between rounds and restarts.
    name:
        The instance id, for the log.
    """

    def __init__(
        self,
        source: PeerTubeSource,
        catalogue: Catalogue,
        *,
        rounds: int,
        seed: int,
        state_dir: Path,
        name: str = "node",
        verified: bool = False,
    ) -> None:
        if rounds < 1:
            raise ConfigError(f"trainer rounds = {rounds} must be at least 1")
        self.source = source
        self.catalogue = catalogue
        self.verified = Path(state_dir) if verified else None  # rows from the node's copy
        self.rounds = rounds
        self.name = name
        self.rng = np.random.default_rng([seed, int.from_bytes(name.encode()[:16], "big")])
        self.path = Path(state_dir) / USER_FILE
        self.user_emb: dict[int, Matrix] = self._load()
        self.counts = np.zeros(len(catalogue.urls), np.float64)

    @classmethod
    def from_config(cls, config: NodeConfig) -> PeerTubeTrainer:
        """The trainer a ``kind: peertube`` node config names; checks PeerTube first."""
        trainer = config.trainer
        if config.peertube is None or not isinstance(trainer, PeerTubeTrainerConfig):
            raise ConfigError("trainer kind 'peertube' needs a `peertube:` section")
        source = PeerTubeSource(config.peertube)
        source.check()
        verified = trainer.catalogue is None
        catalogue = (
            Catalogue((), (), "verified")
            if trainer.catalogue is None
            else Catalogue.load(trainer.catalogue, trainer.catalogue_sha256)
        )
        return cls(
            source,
            catalogue,
            rounds=trainer.rounds,
            seed=trainer.seed,
            state_dir=config.state_dir,
            name=config.instance_id,
            verified=verified,
        )

    def table(self) -> TrainingTable:
        """The training events of the signals read so far, items as catalogue rows."""
        events = self.source.interactions(catalogue=self.catalogue.urls)
        rows = np.asarray([self.catalogue.index[url] for url in events.item_ids], np.int64)
        known = self.catalogue.index
        excluded = self.source.exclusions.users
        unknown = [
            e.video_url
            for e in self.source.log.events()
            if e.video_url not in known and e.user_id not in excluded
        ]
        return TrainingTable(
            data=InstanceData(
                users=events.users,
                items=rows[events.items],
                global_users=np.arange(events.n_users, dtype=np.int64),
                ages=event_ages(events) if len(events) else None,
            ),
            user_ids=tuple(int(u) for u in events.user_ids),
            skipped_rows=len(unknown),
            skipped_videos=len(set(unknown)),
        )

    def update(self, model: Matrix, version: int) -> tuple[Matrix, float]:
        """Refresh, train one round from model ``version``; weight = training events."""
        mf = dataclasses.replace(FEDAVG.local.mf, dim=model.shape[1])
        local = dataclasses.replace(
            FEDAVG.local, mf=mf.at(min(version, self.rounds - 1), self.rounds)
        )
        delta, events = self._train(model, version, local, self.rng)
        return delta, float(events)

    def update_user_level(
        self,
        model: Matrix,
        version: int,
        *,
        user_rate: float,
        user_clip_norm: float,
        rng: np.random.Generator,
    ) -> Matrix:
        """One user-level round (:mod:`mpcrec.node.user_dp`): the sum of the drawn users'
        clipped deltas (``fedavg_dp``'s local settings with the round's ``q`` and ``C_u``)."""
        local = user_local(version, self.rounds, user_rate, user_clip_norm)
        local = dataclasses.replace(local, mf=dataclasses.replace(local.mf, dim=model.shape[1]))
        return self._train(model, version, local, rng)[0]

    def _train(
        self, model: Matrix, version: int, local: LocalConfig, rng: np.random.Generator
    ) -> tuple[Matrix, int]:
        """Refresh, train one round with ``local``; the delta and the training events."""
        n_items = model.shape[0]
        self._follow_catalogue(n_items)
        self.catalogue.check(n_items)
        refresh = self._refresh() or Refresh(0, 0, len(self.source.log), 0)
        table = self.table()
        data = table.data
        log.info(
            "%s: model v%d: PeerTube read %d new or changed rows, forgot %d; training on %d "
            "events of %d users (%d left out: opted out or history off); skipped %d rows on "
            "%d videos the federation does not know",
            self.name,
            version,
            refresh.changed,
            refresh.forgotten,
            data.n_events,
            data.n_users,
            len(self.source.exclusions.users),
            table.skipped_rows,
            table.skipped_videos,
        )
        self.counts = np.bincount(data.items, minlength=n_items).astype(np.float64)
        if data.n_events == 0:
            self.user_emb = {}
            self._save()
            return np.zeros_like(model), 0
        users = np.stack([self._embedding(uid, local.mf) for uid in table.user_ids])
        result = local_update(model, data, users, local, rng)
        # only users with signals now: a user who cleared their history (or left) loses the
        # embedding learnt from it too, and gets the popular fallback
        self.user_emb = dict(zip(table.user_ids, result.user_emb, strict=True))
        self._save()
        return result.delta.reshape(model.shape), data.n_events

    def _follow_catalogue(self, n_items: int) -> None:
        """Without ``catalogue.txt``: the rows of the node's verified copy (re-read: the node
        verified the round's version before this step)."""
        if self.verified is not None:
            self.catalogue = Catalogue.verified(self.verified, n_items)
            if len(self.counts) != n_items:
                self.counts = np.zeros(n_items, np.float64)
        elif (self.path.parent / "catalogue").is_dir():  # catalogue.txt beside a verified copy
            copy = CatalogueIndex.load(self.path.parent / "catalogue")
            for k in range(min(len(copy), len(self.catalogue.urls))):
                if copy.url(k) != self.catalogue.urls[k]:
                    raise ConfigError(
                        f"{self.catalogue.source} line {k + 1} is {self.catalogue.urls[k]}, "
                        f"row {k} of the federation's verified catalogue is {copy.url(k)}",
                        hint="leave `catalogue:` out to train on the verified catalogue",
                    )

    def catalogue_export(self, instance: str) -> InstanceExport | None:
        """This instance's export for the federation's catalogue (public metadata only:
        :func:`mpcrec.data.peertube_catalogue.read_export`); ``None`` with ``catalogue.txt``
        (a federation whose operator distributes the file builds no catalogue)."""
        return None if self.verified is None else read_export(self.source.reader, instance)

    def snapshot(self, model: Matrix, version: int) -> ModelSnapshot:
        """What this instance serves its users from model ``version``."""
        self._follow_catalogue(model.shape[0])
        self._refresh()
        uuids = self.catalogue.uuids
        if not all(uuids):
            known = {v.url: v.uuid for v in self.source.catalogue()}
            urls = self.catalogue.urls
            uuids = tuple(u or known.get(url, "") for url, u in zip(urls, uuids, strict=True))
        bias = FEDAVG.local.mf.item_bias
        keep = self.source.local_users
        return self.source.snapshot(
            version=f"v{version}",
            item_urls=self.catalogue.urls,
            item_uuids=uuids,
            item_embeddings=model,
            user_embeddings={
                u: e for u, e in self.user_emb.items() if u in keep and e.shape == model[0].shape
            },
            popularity=model[:, -1] if bias else self.counts,
        )

    def _refresh(self) -> Refresh | None:
        """Read PeerTube's changes; if PeerTube is unreachable, say so and go on with what
        was read before (a PostgreSQL restart must not stop the node). Users who must not
        be trained on (as last read) lose their embedding, in memory and on disk."""
        try:
            return self.source.refresh()
        except (DataError, psycopg.Error) as err:
            log.warning("%s: PeerTube not read, using the previous read: %s", self.name, err)
            return None
        finally:
            self._forget_excluded()

    def _forget_excluded(self) -> None:
        excluded = self.source.exclusions.users & self.user_emb.keys()
        if excluded:
            for user in excluded:
                del self.user_emb[user]
            self._save()

    def _embedding(self, user_id: int, mf: MFConfig) -> Matrix:
        found = self.user_emb.get(user_id)
        if found is not None and found.shape == (mf.dim,):
            return found
        fresh: Matrix = init_embeddings(1, mf, self.rng)[0]
        if mf.item_bias:
            fresh[-1] = 1.0  # the user side of the item-bias column (as init_factors)
        return fresh

    def _load(self) -> dict[int, Matrix]:
        if not self.path.exists():
            return {}
        with np.load(self.path, allow_pickle=False) as data:
            emb = np.asarray(data["emb"], np.float64)
            return dict(zip(data["users"].tolist(), emb, strict=True))

    def _save(self) -> None:
        users = sorted(self.user_emb)
        buffer = io.BytesIO()
        emb = np.stack([self.user_emb[u] for u in users]) if users else np.zeros((0, 0))
        np.savez(buffer, users=np.asarray(users, np.int64), emb=emb)
        # mkstemp's mode 0600 survives the rename: the embeddings are the users' data
        write_atomic(self.path, buffer.getvalue(), hint="give the node a writable state directory")
