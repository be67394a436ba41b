"""PeerTube's content rules at serving time, each on the real PostgreSQL (read-only role)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest

from mpcrec.data.peertube import PeerTubeReader
from mpcrec.data.peertube_mirror import InstanceMap, write_instance
from mpcrec.data.peertube_rules import read_content_rules
from mpcrec.data.peertube_settings import PeerTubeSettings
from mpcrec.node.peertube_source import PeerTubeSource
from mpcrec.node.recommender import ModelSnapshot
from tests.postgres import PeerTubeDatabase, synthetic_table

pytestmark = pytest.mark.timeout(120)
ORIGINS = ("tube.example", "b.example", "c.example", "d.example")  # video i from ORIGINS[i % 4]
SERVER_ACCOUNT = 900  # the instance's own account (account.applicationId set)
N_ITEMS = 40


def _remote_account(origin: int) -> int:
    """The account owning the videos of ORIGINS[origin] (peertube_mirror's numbering)."""
    return 1_000_000 + origin


@pytest.fixture
def moderated(peertube_db: PeerTubeDatabase) -> Iterator[tuple[PeerTubeDatabase, InstanceMap]]:
    """An instance whose moderators, users and videos exercise every rule once."""
    now = datetime.now(UTC)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        names = write_instance(
            conn, synthetic_table(n_users=6, n_items=N_ITEMS, per_user=4), host=ORIGINS[0],
            origin_hosts=ORIGINS,
        )  # fmt: skip
        run = conn.execute
        run(
            'INSERT INTO "account" ("id", "name", "applicationId", "createdAt", "updatedAt") '
            "VALUES (%s, 'peertube', 1, %s, %s)",
            (SERVER_ACCOUNT, now, now),
        )
        for origin in (1, 2, 3):  # remote accounts' actors, on their servers (ids 2, 3, 4)
            run(
                'INSERT INTO "actor" ("type", "preferredUsername", "url", "inboxUrl", '
                '"serverId", "accountId", "createdAt", "updatedAt") '
                "VALUES ('Person', 'videos', %s, %s, %s, %s, %s, %s)",
                (f"https://{ORIGINS[origin]}/a/videos", f"https://{ORIGINS[origin]}/inbox",
                 origin + 1, _remote_account(origin), now, now),
            )  # fmt: skip
        run('UPDATE "video" SET "privacy" = 3 WHERE "id" = 1')  # video 0: private
        run('UPDATE "video" SET "state" = 2 WHERE "id" = 5')  # video 4: not published yet
        run('UPDATE "video" SET "nsfw" = true WHERE "id" = 13')  # video 12: NSFW
        run(
            'INSERT INTO "videoBlacklist" ("unfederated", "type", "videoId", "createdAt", '
            '"updatedAt") VALUES (false, 1, 9, %s, %s)',  # video 8: blocked by moderators
            (now, now),
        )
        blocks = [  # (blocking account, table, target)
            (SERVER_ACCOUNT, "accountBlocklist", _remote_account(1)),  # instance mutes b's account
            (SERVER_ACCOUNT, "serverBlocklist", 3),  # instance mutes c.example
            (2, "accountBlocklist", _remote_account(3)),  # user 2 mutes d's account
            (3, "serverBlocklist", 4),  # user 3 mutes d.example
        ]
        for account, table, target in blocks:
            column = "targetAccountId" if table == "accountBlocklist" else "targetServerId"
            run(
                f'INSERT INTO "{table}" ("accountId", "{column}", "createdAt", "updatedAt") '
                "VALUES (%s, %s, %s, %s)",
                (account, target, now, now),
            )
        run('UPDATE "user" SET "nsfwPolicy" = \'display\' WHERE "id" = 4')
        run('UPDATE "user" SET "nsfwPolicy" = \'blur\' WHERE "id" = 5')
    yield peertube_db, names


def _urls(names: InstanceMap, indices: list[int]) -> frozenset[str]:
    return frozenset(names.video_urls[i] for i in indices)


def test_each_rule_is_read_through_the_reader_role(
    moderated: tuple[PeerTubeDatabase, InstanceMap],
) -> None:
    # Prepare
    db, names = moderated
    # Execute
    with PeerTubeReader(db.reader_dsn).snapshot() as cur:
        rules = read_content_rules(cur)
    # Assert
    by_origin = {k: [i for i in range(N_ITEMS) if i % 4 == k] for k in range(4)}
    assert rules.hidden == _urls(names, [0, 4, 8, *by_origin[1], *by_origin[2]])
    assert rules.hidden_for_user == {2: _urls(names, by_origin[3]), 3: _urls(names, by_origin[3])}
    assert rules.nsfw == _urls(names, [12])
    assert rules.shows_nsfw == {4, 5}


def test_served_lists_never_hold_a_ruled_out_video(
    moderated: tuple[PeerTubeDatabase, InstanceMap],
) -> None:
    # Prepare: every user has an embedding; the catalogue is every video, ruled out or not
    db, names = moderated
    source = PeerTubeSource(PeerTubeSettings(dsn=db.reader_dsn, settle_seconds=0))
    source.refresh()
    rng = np.random.default_rng(0)
    snapshot = source.snapshot(
        version="v1",
        item_urls=names.video_urls,
        item_uuids=names.video_uuids,
        item_embeddings=rng.normal(size=(N_ITEMS, 4)),
        user_embeddings={u: rng.normal(size=4) for u in names.user_ids},
        popularity=rng.random(N_ITEMS),
    )
    everyone = _urls(names, [0, 4, 8] + [i for i in range(N_ITEMS) if i % 4 in (1, 2)])
    muted_d = _urls(names, [i for i in range(N_ITEMS) if i % 4 == 3])
    nsfw = names.video_urls[12]
    # Execute
    personal = {u: _served(snapshot.recommend(u, N_ITEMS)) for u in names.user_ids}
    anonymous = _served(snapshot.related(names.video_uuids[16], N_ITEMS))
    for_user_4 = _served(snapshot.related(names.video_uuids[16], N_ITEMS, 4))
    # Assert
    for user, urls in personal.items():
        assert not urls & everyone, user
        assert not urls & source.log.seen().get(user, frozenset()), user
        assert (nsfw in urls) == (user in (4, 5)) or nsfw in source.log.seen().get(user, set())
    assert not (personal[2] | personal[3]) & muted_d
    assert personal[6] & muted_d  # the others still get d.example's videos
    assert not anonymous & everyone and nsfw not in anonymous and anonymous & muted_d
    assert nsfw in for_user_4 or nsfw in source.log.seen()[4]


def test_a_saved_snapshot_keeps_its_rules(
    moderated: tuple[PeerTubeDatabase, InstanceMap], tmp_path: object
) -> None:
    db, names = moderated
    source = PeerTubeSource(PeerTubeSettings(dsn=db.reader_dsn, settle_seconds=0))
    source.refresh()
    snapshot = source.snapshot(
        version="v1",
        item_urls=names.video_urls,
        item_uuids=names.video_uuids,
        item_embeddings=np.ones((N_ITEMS, 3)),
        user_embeddings={},
        popularity=np.arange(N_ITEMS, dtype=np.float64),
    )
    path = tmp_path / "s.npz"  # type: ignore[operator]
    snapshot.save(path)
    loaded = ModelSnapshot.load(path)
    assert loaded.hidden.tolist() == snapshot.hidden.tolist() and len(loaded.hidden) > 0
    assert loaded.nsfw.tolist() == [12] and loaded.shows_nsfw == frozenset({4, 5})
    assert _served(loaded.recommend(7, N_ITEMS)) == _served(snapshot.recommend(7, N_ITEMS))


def _served(answer: object) -> frozenset[str]:
    return frozenset(v.url for v in answer.videos)  # type: ignore[attr-defined]
