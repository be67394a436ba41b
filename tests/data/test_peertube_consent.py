"""Who is never trained on, on the real PostgreSQL through the column-granted reader role:
users who opted out in the plugin's storage, users whose PeerTube history is disabled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from mpcrec.data.peertube import PeerTubeReader
from mpcrec.data.peertube_consent import OPT_OUT_PREFIX, PLUGIN_NAME, TrainingExclusions
from mpcrec.data.peertube_mirror import write_instance
from mpcrec.data.peertube_settings import PeerTubeSettings
from mpcrec.node.peertube_source import PeerTubeSource
from mpcrec.node.peertube_trainer import USER_FILE, Catalogue, PeerTubeTrainer
from tests.postgres import READER_ROLE, PeerTubeDatabase, synthetic_table

pytestmark = pytest.mark.timeout(120)

# PeerTube's PluginModel.storeData, what storageManager.storeData(key, data) runs
STORE_DATA = (
    'UPDATE "plugin" SET "storage" = jsonb_set(coalesce("storage", \'{}\'), %s, %s::jsonb) '
    'WHERE "name" = %s AND "type" = %s'
)


def _install_plugin(conn: psycopg.Connection[Any], name: str = PLUGIN_NAME, kind: int = 1) -> None:
    """The row PeerTube writes when an admin installs the plugin (or a theme: kind 2)."""
    conn.execute(
        'INSERT INTO "plugin" ("name", "type", "version", "enabled", "uninstalled", '
        '"peertubeEngine", "homepage", "settings", "createdAt", "updatedAt") '
        "VALUES (%s, %s, '0.1.0', true, false, '>=6.0.0', 'https://example.invalid', "
        """'{"mpcrec-api-secret": "not for the reader"}', now(), now())""",
        (name, kind),
    )


def _store(conn: psycopg.Connection[Any], key: str, value: object, kind: int = 1) -> None:
    conn.execute(STORE_DATA, ("{" + key + "}", json.dumps(value), PLUGIN_NAME, kind))


def _opt_out(conn: psycopg.Connection[Any], user: int, value: object = True) -> None:
    _store(conn, f"{OPT_OUT_PREFIX}{user}", value)


def test_opt_outs_and_disabled_histories_are_read_through_the_reader_role(
    peertube_db: PeerTubeDatabase,
) -> None:
    # Prepare: no plugin row yet, then the plugin with every kind of storage value
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        write_instance(conn, synthetic_table(n_users=8, n_items=20, per_user=3), host="t.example")
    reader = PeerTubeReader(peertube_db.reader_dsn)
    before = reader.read_training_exclusions()
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        _install_plugin(conn)
        _install_plugin(conn, name=PLUGIN_NAME, kind=2)  # a theme of the same name
        _opt_out(conn, 3)
        _opt_out(conn, 4, False)  # opted back in
        _opt_out(conn, 5, "yes")  # not false: left out
        _store(conn, f"{OPT_OUT_PREFIX}x", True)  # not a user id
        _store(conn, "unrelated", {"a": 1})
        _store(conn, f"{OPT_OUT_PREFIX}7", True, kind=2)  # the theme's storage
        conn.execute('UPDATE "user" SET "videosHistoryEnabled" = false WHERE "id" IN (6, 3)')
    # Execute
    after = reader.read_training_exclusions()
    # Assert
    assert before == TrainingExclusions()
    assert after.opted_out == {3, 5}
    assert after.history_off == {3, 6}
    assert after.users == {3, 5, 6}


def test_the_reader_role_cannot_read_the_plugin_settings(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        _install_plugin(conn)
    # Execute / Assert: the node's shared secret lives in "settings", never granted
    with psycopg.connect(peertube_db.reader_dsn, autocommit=True) as conn:
        conn.execute('SELECT "storage" FROM "plugin"')
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute('SELECT "settings" FROM "plugin"')


def _trainer(db: PeerTubeDatabase, tmp_path: Path, urls: list[str]) -> PeerTubeTrainer:
    (tmp_path / "catalogue.txt").write_text("\n".join(urls) + "\n")
    source = PeerTubeSource(PeerTubeSettings(dsn=db.reader_dsn, settle_seconds=0))
    return PeerTubeTrainer(
        source,
        Catalogue.load(tmp_path / "catalogue.txt"),
        rounds=5,
        seed=0,
        state_dir=tmp_path / "state",
        name="tube-a",
    )


def _kept_on_disk(tmp_path: Path) -> set[int]:
    with np.load(tmp_path / "state" / USER_FILE) as kept:
        return set(kept["users"].tolist())


def test_opted_out_users_and_users_without_history_are_never_trained_on(
    peertube_db: PeerTubeDatabase, tmp_path: Path
) -> None:
    # Prepare: 10 users (PeerTube ids 2..11); user 6 has had history off from the start
    table = synthetic_table(n_users=10, n_items=30, per_user=6)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        names = write_instance(conn, table, host="tube.example")
        _install_plugin(conn)
        conn.execute('UPDATE "user" SET "videosHistoryEnabled" = false WHERE "id" = 6')
    node = _trainer(peertube_db, tmp_path, list(names.video_urls))
    model = np.random.default_rng(1).normal(0.0, 0.1, (30, 8))
    events_of = {u: int(np.sum(table.users == u - 2)) for u in names.user_ids}

    # Execute: a round; user 3 opts out, user 4 turns history off; a snapshot, a round;
    # user 3 opts back in; a round
    _, weight_1 = node.update(model, 0)
    first = node.table()
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        _opt_out(conn, 3)
        conn.execute('UPDATE "user" SET "videosHistoryEnabled" = false WHERE "id" = 4')
    served = node.snapshot(model, 0)  # a refresh: the embeddings go before any training
    after_snapshot, on_disk = set(node.user_emb), _kept_on_disk(tmp_path)
    _, weight_2 = node.update(model, 1)
    second, after_second = node.table(), (set(node.user_emb), _kept_on_disk(tmp_path))
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        _opt_out(conn, 3, False)
    _, weight_3 = node.update(model, 2)

    # Assert: user 6 never trained; 3 and 4 left out once they said so, 3 back after
    everyone = set(names.user_ids)
    assert set(first.user_ids) == everyone - {6}
    assert weight_1 == sum(events_of.values()) - events_of[6]
    assert after_snapshot == on_disk == everyone - {3, 4, 6}
    assert served.recommend(3, 5).fallback == "popular"  # still served, not personalised
    assert set(second.user_ids) == everyone - {3, 4, 6}
    assert weight_2 == weight_1 - events_of[3] - events_of[4]
    assert after_second == (everyone - {3, 4, 6}, everyone - {3, 4, 6})
    assert weight_3 == weight_2 + events_of[3] and 3 in node.user_emb


def test_an_unreadable_consent_table_stops_the_read_not_the_opt_out(
    peertube_db: PeerTubeDatabase, tmp_path: Path
) -> None:
    # Prepare: a round with user 3 opted out, then the grant on "plugin" is lost
    table = synthetic_table(n_users=6, n_items=20, per_user=4)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        names = write_instance(conn, table, host="tube.example")
        _install_plugin(conn)
        _opt_out(conn, 3)
    node = _trainer(peertube_db, tmp_path, list(names.video_urls))
    model = np.random.default_rng(1).normal(0.0, 0.1, (20, 8))
    _, weight_1 = node.update(model, 0)
    with psycopg.connect(peertube_db.admin_dsn, autocommit=True) as conn:
        conn.execute(f'REVOKE SELECT ("storage") ON "plugin" FROM {READER_ROLE}')
        conn.execute('INSERT INTO "userVideoHistory" ("createdAt", "updatedAt", "currentTime", '
                     '"videoId", "userId") SELECT now(), now(), 5, "id", 3 FROM "video" '
                     'WHERE "id" NOT IN (SELECT "videoId" FROM "userVideoHistory" '
                     'WHERE "userId" = 3) LIMIT 1')  # fmt: skip
    # Execute
    _, weight_2 = node.update(model, 1)
    # Assert: the refresh failed as a whole (previous read), and user 3 stays out
    assert 3 not in node.table().user_ids and 3 not in node.user_emb
    assert weight_2 == weight_1
