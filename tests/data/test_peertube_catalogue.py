"""The catalogue export against a real PostgreSQL, through the reader's SELECT-only role."""

from __future__ import annotations

import psycopg
import pytest

from mpcrec.data.catalogue_merge import CatalogueBook
from mpcrec.data.peertube import PeerTubeReader
from mpcrec.data.peertube_catalogue import read_export
from mpcrec.data.peertube_mirror import write_instance
from tests.postgres import PeerTubeDatabase, synthetic_table

pytestmark = pytest.mark.timeout(120)

HOST = "tube.example"
ORIGINS = (HOST, "videos.other.example")


def test_export_holds_public_local_metadata_and_interacted_remote_urls(
    peertube_db: PeerTubeDatabase,
) -> None:
    # Prepare: 90 videos, every other one published here; then one made private, one
    # still transcoding, and a remote video nobody here interacted with
    table = synthetic_table(n_users=10, n_items=90, per_user=5)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        names = write_instance(conn, table, host=HOST, origin_hosts=ORIGINS)
        conn.execute('UPDATE "video" SET "privacy" = 3 WHERE "id" = 1')
        conn.execute('UPDATE "video" SET "state" = 2 WHERE "id" = 3')
        conn.execute(
            'UPDATE "video" SET "category" = 15, "language" = \'fr\', "licence" = 2 WHERE "id" = 5'
        )
    touched = {names.video_urls[i] for i in table.items.tolist()}
    # Execute
    export = read_export(PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0), "tube")
    # Assert
    local = {names.video_urls[i] for i in range(90) if i % 2 == 0} - {
        names.video_urls[0],
        names.video_urls[2],
    }
    assert {v.url for v in export.videos} == local
    remote = {names.video_urls[i] for i in range(90) if i % 2 == 1} & touched
    assert set(export.remote_urls) == remote and len(remote) < 45
    fifth = next(v for v in export.videos if v.url == names.video_urls[4])
    meta = table.item_meta[4] if table.item_meta else None
    assert meta is not None
    assert (fifth.category, fifth.language, fifth.licence) == (15, "fr", 2)
    assert fifth.tags == tuple(sorted(set(meta.tags))) and fifth.name.startswith("Video number")
    assert fifth.uuid == names.video_uuids[4] and fifth.duration == 600
    assert fifth.channel == "channel_1" and fifth.account == "root"
    assert fifth.instance == "tube" and fifth.published_at > 0
    # the export merges: local rows vouched for by the instance, remote ones URL-only
    diff = CatalogueBook().merge([export])
    assert diff is not None and diff.header.rows == len(local) + len(remote)
