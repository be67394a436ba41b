"""The publishing MovieLens instances of ``mpcrec demo --new-videos``: the schedule, the
exports merged into versions, and the trainer on the catalogue's rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mpcrec.data.catalogue_merge import CatalogueBook
from mpcrec.data.catalogue_store import CatalogueDir
from mpcrec.node.movielens_catalogue import (
    BATCHES,
    RETIRED_PER_BATCH,
    PublishingMovieLensTrainer,
    PublishSchedule,
    instance_name,
)
from mpcrec.node.movielens_trainer import movielens_setting

N = 3
EVERY = 2


@pytest.fixture(scope="module")
def plan() -> PublishSchedule:
    split, _, _ = movielens_setting(N, 0)
    return PublishSchedule(split, N, EVERY)


def merged(plan: PublishSchedule, versions: list[int], directory: Path) -> CatalogueBook:
    """The catalogue the launcher's merge makes of every instance's export at ``versions``."""
    book, files = CatalogueBook(), CatalogueDir(directory)
    for seen in versions:
        diff = book.merge([plan.export(k, instance_name(k), seen) for k in range(N)])
        if diff is not None:
            files.append(diff, book.tip)
            book.apply(diff)
    return book


def test_the_newest_videos_are_held_back_and_published_in_batches(
    plan: PublishSchedule, tmp_path: Path
) -> None:
    batches = plan.batches()
    assert len(batches) == BATCHES and sum(len(b) for b in batches) == int(np.ceil(0.2 * 1682))
    start = plan.published(0)
    assert not start[np.concatenate(batches)].any() and start.sum() == 1682 - 337
    year = np.array([m.published for m in plan.meta()])
    assert year[batches[0]].min() >= year[start].max() - 1  # the newest releases held back
    assert plan.published(EVERY).sum() == start.sum() + len(batches[0])
    assert len(plan.retired(EVERY)) == RETIRED_PER_BATCH and len(plan.retired(0)) == 0
    book = merged(plan, [0, 1, EVERY, EVERY + 1, 2 * EVERY], tmp_path)
    assert book.tip.version == 3  # unchanged exports add no version
    assert book.tip.rows == start.sum() + len(batches[0]) + len(batches[1])
    assert sum(book.retired) == 2 * RETIRED_PER_BATCH
    retired_urls = {book.records[k].url for k, f in enumerate(book.retired) if f}
    assert retired_urls == {plan.url(int(i)) for i in plan.retired(2 * EVERY)}
    assert all(r.name and r.tags and r.instance.startswith("ml-") for r in book.records)


def test_publish_from_holds_every_batch_back_for_that_many_more_models() -> None:
    split, _, _ = movielens_setting(N, 0)
    now, later = PublishSchedule(split, N, EVERY), PublishSchedule(split, N, EVERY, 5)
    for version in range(12):
        assert later.batch(version) == now.batch(max(0, version - 5)), version
    assert later.batch(5 + EVERY - 1) == 0 and later.batch(5 + EVERY) == 1
    assert (later.published(6) == now.published(0)).all()
    assert len(later.retired(6)) == 0 and len(later.retired(5 + EVERY)) == RETIRED_PER_BATCH


def test_the_trainer_trains_and_serves_catalogue_rows(
    plan: PublishSchedule, tmp_path: Path
) -> None:
    merged(plan, [0, EVERY], tmp_path / "catalogue")
    trainer = PublishingMovieLensTrainer(1, N, 0, 10, tmp_path, EVERY)
    rows = CatalogueDir(tmp_path / "catalogue").tip().rows
    model = np.random.default_rng(0).normal(0, 0.1, (rows, 32))
    delta, weight = trainer.update(model, 3)
    assert delta.shape == model.shape and np.abs(delta).sum() > 0
    items = trainer.items_of_rows(rows)
    published = plan.published(EVERY)
    events = trainer.all_events.items
    assert weight == np.isin(events, items).sum() < len(events)  # no event on a video not out
    assert not published[events[~np.isin(events, items)]].any()
    assert trainer.seen_version == 3 and len(trainer.catalogue_export("ml-01").videos) > 0
    snapshot = trainer.snapshot(model, 3)
    assert snapshot.item_urls[5] == plan.url(int(items[5])) and snapshot.n_items == rows
