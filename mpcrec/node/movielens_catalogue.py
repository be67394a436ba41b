"""MovieLens instances that publish videos between rounds (``mpcrec demo --new-videos``).

**The schedule** (:class:`PublishSchedule`, public and the same in every process): item
``i`` of ML-100k is a video of instance ``ml-{i mod N}``. The newest-released
:data:`HELD_BACK` of the items (:func:`mpcrec.data.split_cold.newest_items`, the cold-start
protocol's) are held back at the start and published in :data:`BATCHES` batches, oldest
first: batch ``b`` once the instance has seen model version ``start + b * every``
(``start`` is ``trainer.publish_from``, 0 by default: the model trains that many more rounds
on the videos of the start before any is published, so the content map is fitted on trained
rows). With each batch, the :data:`RETIRED_PER_BATCH` most watched live videos of the
start are deleted (retired): the strongest check that a retired video is never served. An
instance's catalogue export
(:meth:`PublishSchedule.export`) lists its own published, live videos with their public
metadata (title, genres as tags, release year as ``publishedAt``); the launcher merges the
exports into signed versions (docs/catalogue.md).

**The trainer** (:class:`PublishingMovieLensTrainer`): the model's row ``k`` is catalogue row
``k`` (the model grows with the catalogue), so the trainer maps rows to its ML items through
the node's verified copy (``state_dir/catalogue``, by URL); it trains only on its users'
events on videos that are in the catalogue (a video not yet published cannot have been
watched), and serves the catalogue's rows (retired ones are hidden by the daemon).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from mpcrec.data.catalogue import VideoRecord
from mpcrec.data.catalogue_index import CatalogueIndex
from mpcrec.data.catalogue_merge import InstanceExport
from mpcrec.data.movielens import UNKNOWN_YEAR
from mpcrec.data.split import Split
from mpcrec.data.split_cold import newest_items
from mpcrec.errors import DataError
from mpcrec.model.local import InstanceData
from mpcrec.node.movielens_trainer import MovieLensTrainer
from mpcrec.node.recommender import ModelSnapshot
from mpcrec.node.trainer import Matrix

if TYPE_CHECKING:
    from mpcrec.node.config import MovieLensTrainerConfig

HELD_BACK = 0.2
BATCHES = 3
RETIRED_PER_BATCH = 2
IntArray = npt.NDArray[np.int64]


def instance_name(index: int) -> str:
    """The demo's name of instance ``index`` (``ml-00``, ``ml-01``, ...)."""
    return f"ml-{index:02d}"


@dataclass(frozen=True)
class PublishSchedule:
    """Which ML items are published and which retired, by model version (module docstring)."""

    split: Split
    instances: int
    every: int
    start: int = 0

    @property
    def n_items(self) -> int:
        return self.split.n_items

    def owner(self, item: int) -> int:
        return item % self.instances

    def url(self, item: int) -> str:
        """The video URL of ML item ``item`` (on its owner's instance)."""
        host = instance_name(self.owner(item))
        return f"https://{host}.example/videos/watch/{self.split.train.item_ids[item]}"

    def batches(self) -> list[IntArray]:
        """The held-back items in publication batches (oldest release first)."""
        held = newest_items(self.split.train, HELD_BACK)
        published = np.array([m.published for m in self.meta()], np.float64)[held]
        order = held[np.lexsort((held, published))]
        return [np.sort(b) for b in np.array_split(order, BATCHES)]

    def meta(self) -> Any:
        meta = self.split.train.item_meta
        if meta is None:
            raise DataError("the publishing demo needs MovieLens' item metadata")
        return meta

    def batch(self, version: int) -> int:
        """How many batches are out once model version ``version`` was seen."""
        if self.every <= 0 or version < self.start:
            return 0
        return min(BATCHES, (version - self.start) // self.every)

    def published(self, version: int) -> npt.NDArray[np.bool_]:
        """Items published by then (retired ones included: a retired video stays a row)."""
        out = np.ones(self.n_items, np.bool_)
        for k, items in enumerate(self.batches()):
            if k >= self.batch(version):
                out[items] = False
        return out

    def retired(self, version: int) -> IntArray:
        """Items deleted by then: per batch out, the most watched live items of the start."""
        start = self.published(0)
        counts = np.bincount(self.split.train.items, minlength=self.n_items)
        ranked = [int(i) for i in np.lexsort((np.arange(self.n_items), -counts)) if start[i]]
        return np.asarray(sorted(ranked[: RETIRED_PER_BATCH * self.batch(version)]), np.int64)

    def record(self, item: int) -> VideoRecord:
        """The public metadata of ``item`` as its instance publishes it."""
        meta = self.meta()[item]
        year = int(meta.published) if meta.published != UNKNOWN_YEAR else 0
        published_at = calendar.timegm((year, 1, 1, 0, 0, 0)) if year else 0
        item_id = self.split.train.item_ids[item]
        return VideoRecord(
            self.url(item),
            uuid=f"{int(item_id):036d}" if item_id.isdigit() else item_id,
            name=meta.title,
            tags=tuple(meta.tags),
            published_at=max(0, published_at),
        )

    def export(self, index: int, instance: str, version: int) -> InstanceExport:
        """Instance ``index``'s export once it saw model version ``version``."""
        live = self.published(version)
        live[self.retired(version)] = False
        own = [i for i in np.flatnonzero(live) if self.owner(int(i)) == index]
        return InstanceExport(instance, tuple(self.record(int(i)) for i in own))


class PublishingMovieLensTrainer(MovieLensTrainer):
    """:class:`MovieLensTrainer` on the catalogue's rows, exporting its instance's videos."""

    def __init__(
        self,
        index: int,
        instances: int,
        seed: int,
        rounds: int,
        state_dir: Path,
        every: int,
        start: int = 0,
    ) -> None:
        super().__init__(index, instances, seed, rounds, state_dir)
        self.index = index
        self.schedule = PublishSchedule(self.split, instances, every, start)
        self.item_of_url = {self.schedule.url(i): i for i in range(self.split.n_items)}
        self.catalogue_dir = Path(state_dir) / "catalogue"
        self.seen_version = 0
        self.all_events = self.data
        self._rows: tuple[int, IntArray] = (-1, np.zeros(0, np.int64))

    @classmethod
    def from_config(
        cls, config: MovieLensTrainerConfig, *, state_dir: Path
    ) -> PublishingMovieLensTrainer:
        """The trainer of a ``kind: movielens`` section with ``publish_every`` > 0."""
        c = config
        return cls(
            c.index, c.instances, c.seed, c.rounds, state_dir, c.publish_every, c.publish_from
        )

    def catalogue_export(self, instance: str) -> InstanceExport:
        """This instance's videos as of the newest model it has seen."""
        return self.schedule.export(self.index, instance, self.seen_version)

    def items_of_rows(self, rows: int) -> IntArray:
        """The ML item of each of the first ``rows`` rows of the verified catalogue."""
        if self._rows[0] != rows:
            index = CatalogueIndex.load(self.catalogue_dir)
            if len(index) < rows:
                raise DataError(f"the model has {rows} rows, the verified catalogue {len(index)}")
            items = [self.item_of_url.get(index.url(k), -1) for k in range(rows)]
            self._rows = (rows, np.asarray(items, np.int64))
        return self._rows[1]

    @contextmanager
    def on_rows(self, rows: int, version: int) -> Iterator[IntArray]:
        """Within: ``self.data`` is the events on catalogue videos, items as rows."""
        self.seen_version = max(self.seen_version, version)
        items = self.items_of_rows(rows)
        row_of = np.full(self.split.n_items, -1, np.int64)
        row_of[items[items >= 0]] = np.flatnonzero(items >= 0)
        full = self.all_events
        keep = row_of[full.items] >= 0
        ages = None if full.ages is None else full.ages[keep]
        rows_of_events = row_of[full.items[keep]]
        self.data = InstanceData(full.users[keep], rows_of_events, full.global_users, ages)
        try:
            yield items
        finally:
            self.data = full

    def update(self, model: Matrix, version: int) -> tuple[Matrix, float]:
        with self.on_rows(model.shape[0], version):
            return super().update(model, version)

    def update_user_level(self, model: Matrix, version: int, **kwargs: Any) -> Matrix:
        with self.on_rows(model.shape[0], version):
            return super().update_user_level(model, version, **kwargs)

    def snapshot(self, model: Matrix, version: int) -> ModelSnapshot:
        """What this instance serves: the catalogue's rows, named by their URLs."""
        with self.on_rows(model.shape[0], version) as items:
            index = CatalogueIndex.load(self.catalogue_dir)
            urls = [index.url(k) for k in range(len(items))]
            users = self.data.global_users
            seen: dict[int, list[str]] = {}
            for user, row in zip(self.data.users, self.data.items, strict=True):
                seen.setdefault(int(self.user_ids[users[user]]), []).append(urls[row])
            return ModelSnapshot.build(
                version=f"v{version}",
                item_urls=urls,
                item_uuids=urls,
                item_embeddings=model,
                user_embeddings={
                    int(self.user_ids[g]): self.user_emb[k] for k, g in enumerate(users)
                },
                popularity=np.bincount(self.data.items, minlength=model.shape[0]),
                local_users=[int(self.user_ids[g]) for g in users],
                seen=seen,
            )
