"""MovieLens-100k written into PeerTube's tables, then read back through the read-only role."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.peertube import PeerTubeReader, Signal
from mpcrec.data.peertube_log import InteractionLog
from mpcrec.data.peertube_mirror import (
    keep_users,
    movielens_ratings,
    movielens_signals,
    video_uuid,
    write_instance,
)
from tests.postgres import PeerTubeDatabase

pytestmark = pytest.mark.timeout(180)


def test_movielens_round_trip_through_peertube(peertube_db: PeerTubeDatabase) -> None:
    # Prepare: 200 MovieLens users on one instance, videos published on three
    table = keep_users(load_movielens_100k(), 200)
    likes, dislikes, saved = movielens_signals(table, movielens_ratings())
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        names = write_instance(
            conn,
            table,
            host="tube.example",
            origin_hosts=("tube.example", "a.example", "b.example"),
            likes=likes,
            dislikes=dislikes,
            playlist=saved,
        )
    reader = PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0)
    # Execute
    reader.check()
    log = InteractionLog()
    log.apply(reader.read_since(None).events)
    out = log.to_interactions(catalogue=[v.url for v in reader.read_catalogue()])
    # Assert
    assert table.n_users == 200 and table.n_items == 1682
    assert len(out) == len(table) - int(dislikes.sum())  # one row per rated movie, minus 1-star
    assert out.n_items == 1682
    assert out.n_users == 200
    assert video_uuid(table.item_ids[0]) == names.video_uuids[0]
    row = int(np.flatnonzero(likes & saved)[0])  # a 5-star movie: watched, liked, saved
    key = (str(names.user_ids[table.users[row]]), names.video_urls[table.items[row]])
    weight = {
        (out.user_ids[u], out.item_ids[i]): float(w)
        for u, i, w in zip(out.users, out.items, out.weights, strict=True)
    }[key]
    assert weight == pytest.approx(1.0 + 2.0 + 1.5)
    signals = {e.signal for e in log.events()}
    assert signals == {Signal.WATCH, Signal.LIKE, Signal.DISLIKE, Signal.PLAYLIST}
