"""The catalogue export against a real PostgreSQL, through the reader's SELECT-only role."""

from __future__ import annotations

import psycopg
import pytest

from mpcrec.data.catalogue_merge import CatalogueBook
from mpcrec.data.peertube import PeerTubeReader
from mpcrec.data.peertube_catalogue import read_export
from mpcrec.data.peertube_mirror import write_instance
from mpcrec.errors import ConfigError
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


def test_a_peertube_node_trains_on_the_catalogue_it_verified(
    peertube_db: PeerTubeDatabase, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # Prepare: the instance exports, the launcher signs version 1, the node verifies it
    import numpy as np
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from launch.catalogue import LauncherCatalogue, catalogue_fields
    from mpcrec.audit.log import AuditLog
    from mpcrec.data.peertube_settings import PeerTubeSettings
    from mpcrec.federation.announcement import Phase, RoundAnnouncement
    from mpcrec.node.catalogue_sync import CatalogueSync
    from mpcrec.node.peertube_source import PeerTubeSource
    from mpcrec.node.peertube_trainer import Catalogue, PeerTubeTrainer

    table = synthetic_table(n_users=10, n_items=40, per_user=5)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        write_instance(conn, table, host=HOST, origin_hosts=ORIGINS)
    reader = PeerTubeReader(peertube_db.reader_dsn, settle_seconds=0)
    key = Ed25519PrivateKey.generate()
    (tmp_path / "launcher").mkdir()
    catalogue = LauncherCatalogue(
        tmp_path / "launcher" / "catalogue",
        AuditLog(tmp_path / "launcher" / "l.sqlite", launcher_key=key),
    )
    catalogue.submit(read_export(reader, "tube"))
    catalogue.publish(1)
    found = catalogue.in_force(1)
    assert found is not None
    ann = RoundAnnouncement(1, 0, Phase.OPEN, **catalogue_fields(found))
    node = tmp_path / "node"

    class Door:
        def fetch(self, since: int):  # type: ignore[no-untyped-def]
            return catalogue.since(since)

        def submit(self, export: bytes) -> int:
            return 0

    CatalogueSync(node).check(ann, Door(), key.public_key().public_bytes_raw())
    settings = PeerTubeSettings(dsn=peertube_db.reader_dsn, settle_seconds=0)
    trainer = PeerTubeTrainer(
        PeerTubeSource(settings), Catalogue((), ()), rounds=3, seed=0, state_dir=node,
        name="tube", verified=True,
    )  # fmt: skip
    rows = int(found["rows"])
    # Execute
    delta, weight = trainer.update(np.zeros((rows, 4)), 0)
    # Assert: its events map onto the verified rows (every video it knows is one)
    assert delta.shape == (rows, 4) and weight > 0
    assert trainer.catalogue.urls[0] == catalogue.book.records[0].url
    assert trainer.table().skipped_rows == 0
    with pytest.raises(ConfigError, match="verified catalogue has"):
        trainer.update(np.zeros((rows + 1, 4)), 1)
    # a node on catalogue.txt exports nothing, and refuses a file that disagrees with its copy
    urls = tuple(reversed(trainer.catalogue.urls))
    on_file = PeerTubeTrainer(
        PeerTubeSource(settings), Catalogue(urls, ("",) * len(urls), "catalogue.txt"),
        rounds=3, seed=0, state_dir=node, name="tube",
    )  # fmt: skip
    assert on_file.catalogue_export("tube") is None
    assert trainer.catalogue_export("tube") is not None
    with pytest.raises(ConfigError, match=r"catalogue\.txt line 1 is"):
        on_file.update(np.zeros((rows, 4)), 0)
