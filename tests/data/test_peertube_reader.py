"""The PeerTube reader against a real PostgreSQL, through a role that may only SELECT."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest

from mpcrec.data.interactions import Interactions
from mpcrec.data.peertube import PeerTubeReader, Signal, Source, Watermark
from mpcrec.data.peertube_log import InteractionLog, SignalWeights
from mpcrec.data.peertube_mirror import InstanceMap, write_instance
from tests.postgres import PeerTubeDatabase, synthetic_table

pytestmark = pytest.mark.timeout(120)

HOST = "tube.example"
ORIGINS = (HOST, "videos.other.example", "peertube.third.example")


def _fill(
    db: PeerTubeDatabase,
) -> tuple[Interactions, InstanceMap, np.ndarray, np.ndarray, np.ndarray]:
    table = synthetic_table()
    rows = np.arange(len(table))
    likes, dislikes, saved = rows % 3 == 0, rows % 7 == 1, rows % 5 == 2
    with psycopg.connect(db.admin_dsn) as conn:
        names = write_instance(
            conn,
            table,
            host=HOST,
            origin_hosts=ORIGINS,
            likes=likes,
            dislikes=dislikes & ~likes,
            playlist=saved,
        )
    return table, names, likes, dislikes & ~likes, saved


def test_full_read_returns_every_signal_of_local_users(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    table, names, likes, dislikes, saved = _fill(peertube_db)
    reader = PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0)
    # Execute
    delta = reader.read_since(None)
    # Assert: each row of the table came back under its PeerTube names, per signal
    counts = Counter(e.signal for e in delta.events)
    assert counts[Signal.WATCH] == len(table)
    assert counts[Signal.LIKE] == int(likes.sum())
    assert counts[Signal.DISLIKE] == int(dislikes.sum())
    assert counts[Signal.PLAYLIST] == int(saved.sum())
    expected_watch = {
        (names.user_ids[u], names.video_urls[i], names.video_uuids[i], float(t))
        for u, i, t in zip(table.users, table.items, table.timestamps, strict=True)
    }
    got_watch = {
        (e.user_id, e.video_url, e.video_uuid, e.at)
        for e in delta.events
        if e.signal is Signal.WATCH
    }
    assert got_watch == expected_watch
    liked = {
        (names.user_ids[table.users[r]], names.video_urls[table.items[r]])
        for r in np.flatnonzero(likes)
    }
    assert {(e.user_id, e.video_url) for e in delta.events if e.signal is Signal.LIKE} == liked
    # remote videos are read like local ones
    hosts = {e.video_url.split("/")[2] for e in delta.events}
    assert hosts == set(ORIGINS)


def test_second_read_returns_only_what_changed(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    _fill(peertube_db)
    reader = PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0)
    first = reader.read_since(None)
    log = InteractionLog()
    log.apply(first.events)
    before = log.to_interactions()
    # Execute: nothing changed, then one new watch and one like turned into a dislike
    again = reader.read_since(first.watermark)
    like = next(e for e in first.events if e.signal is Signal.LIKE)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        conn.execute(
            'INSERT INTO "userVideoHistory" ("createdAt", "updatedAt", "currentTime", "videoId", '
            '"userId") SELECT now(), now(), 5, v."id", 2 FROM "video" v WHERE v."id" NOT IN '
            '(SELECT "videoId" FROM "userVideoHistory" WHERE "userId" = 2) ORDER BY v."id" LIMIT 1'
        )
        conn.execute(
            'UPDATE "accountVideoRate" SET "type" = \'dislike\', "updatedAt" = now() '
            'WHERE "id" = %s',
            (like.row_id,),
        )
    third = reader.read_since(Watermark.from_json(again.watermark.to_json()))
    # Assert
    assert again.events == ()
    assert {(e.source, e.signal) for e in third.events} == {
        (Source.HISTORY, Signal.WATCH),
        (Source.RATE, Signal.DISLIKE),
    }
    assert len(third.events) == 2
    assert [e.user_id for e in third.events if e.source is Source.HISTORY] == [2]
    assert log.apply(third.events) == 2
    after = log.to_interactions()
    pair = (str(like.user_id), like.video_url)
    before_pairs = set(
        zip(
            (before.user_ids[u] for u in before.users),
            (before.item_ids[i] for i in before.items),
            strict=True,
        )
    )
    after_pairs = set(
        zip(
            (after.user_ids[u] for u in after.users),
            (after.item_ids[i] for i in after.items),
            strict=True,
        )
    )
    assert pair in before_pairs and pair not in after_pairs
    assert len(after_pairs) == len(before_pairs)  # one pair gone (disliked), one new (watched)
    assert like.video_url in log.seen()[like.user_id]


def test_rows_younger_than_settle_wait_for_the_next_read(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    _fill(peertube_db)
    first = PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0).read_since(None)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        conn.execute('UPDATE "userVideoHistory" SET "updatedAt" = now() WHERE "id" = 1')
    # Execute
    patient = PeerTubeReader(peertube_db.reader_dsn, settle_seconds=3600).read_since(
        first.watermark
    )
    eager = PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0).read_since(first.watermark)
    # Assert
    assert patient.events == ()
    assert [(e.source, e.row_id) for e in eager.events] == [(Source.HISTORY, 1)]


def test_private_videos_are_never_read(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    _fill(peertube_db)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        conn.execute('UPDATE "video" SET "privacy" = 3 WHERE "id" = 1')  # private
        url = conn.execute('SELECT "url" FROM "video" WHERE "id" = 1').fetchone()
    reader = PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0)
    # Execute
    events = reader.read_since(None).events
    catalogue = reader.read_catalogue()
    # Assert
    assert url is not None
    assert url[0] not in {e.video_url for e in events}
    assert url[0] not in {v.url for v in catalogue}
    assert len(catalogue) == 89


def test_catalogue_names_tags_and_remote_videos(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    table, names, *_ = _fill(peertube_db)
    # Execute
    catalogue = PeerTubeReader(peertube_db.reader_dsn).read_catalogue()
    # Assert
    assert [v.url for v in catalogue] == list(names.video_urls)
    assert [v.uuid for v in catalogue] == list(names.video_uuids)
    assert table.item_meta is not None
    assert [v.tags for v in catalogue] == [m.tags for m in table.item_meta]
    assert [v.remote for v in catalogue] == [
        not u.startswith(f"https://{HOST}/") for u in names.video_urls
    ]
    assert datetime.fromtimestamp(catalogue[0].published, UTC).year == 1991


def test_deleted_rows_are_forgotten(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    _fill(peertube_db)
    reader = PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0)
    log = InteractionLog()
    log.apply(reader.read_since(None).events)
    size = len(log)
    with psycopg.connect(peertube_db.admin_dsn) as conn:  # user 2 clears their history
        cleared = conn.execute('DELETE FROM "userVideoHistory" WHERE "userId" = 2').rowcount
    # Execute
    dropped = log.retain(reader.read_present_rows())
    # Assert
    assert cleared > 0
    assert dropped == cleared and len(log) == size - cleared
    assert not [e for e in log.events() if e.user_id == 2 and e.source is Source.HISTORY]


def test_weights_follow_signals_and_dislikes_are_dropped(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    table, names, likes, dislikes, saved = _fill(peertube_db)
    log = InteractionLog()
    log.apply(PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0).read_since(None).events)
    weights = SignalWeights(watch=1.0, like=2.0, playlist=1.5)
    # Execute
    out = log.to_interactions(weights, catalogue=names.video_urls)
    # Assert: plaintext twin of the weighting, computed from the masks we wrote
    expected = {
        (str(names.user_ids[table.users[r]]), names.video_urls[table.items[r]]): 1.0
        + 2.0 * likes[r]
        + 1.5 * saved[r]
        for r in range(len(table))
        if not dislikes[r]
    }
    got = {
        (out.user_ids[u], out.item_ids[i]): float(w)
        for u, i, w in zip(out.users, out.items, out.weights, strict=True)
    }
    assert got == pytest.approx(expected)
    assert set(out.item_ids) == set(names.video_urls)  # the whole catalogue, watched or not


def test_summary_counts_what_a_full_read_returns(peertube_db: PeerTubeDatabase) -> None:
    # Prepare: every kind of signal, one private video, a remote origin
    table = synthetic_table(n_users=7, n_items=25, per_user=5)
    rng = np.random.default_rng(3)
    marks = [rng.random(len(table)) < p for p in (0.5, 0.2, 0.3)]
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        write_instance(
            conn, table, host="t.example", origin_hosts=("t.example", "r.example"),
            likes=marks[0], dislikes=marks[1] & ~marks[0], playlist=marks[2],
        )  # fmt: skip
        conn.execute('UPDATE "video" SET "privacy" = 3 WHERE "id" = 2')
    reader = PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0)
    # Execute
    summary = reader.summarise()
    events = reader.read_since(None).events
    catalogue = reader.read_catalogue()
    # Assert
    assert summary.signals == dict(Counter(e.signal.value for e in events))
    assert summary.users_with_signals == len({e.user_id for e in events})
    assert summary.public_videos == len(catalogue) == 24
    assert summary.remote_videos == sum(v.remote for v in catalogue) > 0
