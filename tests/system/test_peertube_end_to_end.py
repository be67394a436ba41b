"""PeerTube's database -> the node's source -> a model snapshot -> HTTP answers for its users."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import psycopg
import pytest

from mpcrec.data.peertube_mirror import InstanceMap, write_instance
from mpcrec.data.peertube_settings import PeerTubeSettings
from mpcrec.node.http_api import ApiServer
from mpcrec.node.peertube_source import PeerTubeSource
from mpcrec.node.recommender import Recommender
from tests.postgres import PeerTubeDatabase, synthetic_table

pytestmark = pytest.mark.timeout(120)
ROUTE = "/api/v1/recommendations/videos"
SECRET = "end-to-end-secret-" + "w" * 32
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def instance(peertube_db: PeerTubeDatabase) -> Iterator[tuple[PeerTubeSource, InstanceMap]]:
    table = synthetic_table(n_users=20, n_items=60, per_user=8)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        names = write_instance(
            conn, table, host="tube.example", origin_hosts=("tube.example", "b.example")
        )
        # a user who signed up since the last round: an account, no history yet
        conn.execute(
            'INSERT INTO "user" ("id", "username", "email", "role", "videoQuota", '
            '"videoQuotaDaily", "createdAt", "updatedAt") '
            "VALUES (500, 'newcomer', 'n@example.invalid', 2, -1, -1, now(), now())"
        )
        conn.execute(
            'INSERT INTO "account" ("id", "name", "userId", "createdAt", "updatedAt") '
            "VALUES (500, 'newcomer', 500, now(), now())"
        )
    settings = PeerTubeSettings(dsn=peertube_db.reader_dsn, settle_seconds=0)
    yield PeerTubeSource(settings), names


def test_users_get_unseen_videos_of_the_federation_over_http(
    instance: tuple[PeerTubeSource, InstanceMap],
) -> None:
    # Prepare: read PeerTube, pretend a round published embeddings for half the users
    source, names = instance
    refresh = source.refresh()
    catalogue = source.catalogue()
    rng = np.random.default_rng(3)
    items = rng.normal(size=(len(catalogue), 8))
    trained = [uid for uid in names.user_ids if uid % 2 == 0]
    users = {uid: rng.normal(size=8) for uid in trained}
    snapshot = source.snapshot(
        version="round-1",
        item_urls=[v.url for v in catalogue],
        item_uuids=[v.uuid for v in catalogue],
        item_embeddings=items,
        user_embeddings=users,
        popularity=np.arange(len(catalogue), dtype=np.float64),
    )
    server = ApiServer(Recommender(snapshot), secret=SECRET.encode())
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10, headers=AUTH) as client:
            # Execute
            personal = client.get(ROUTE, params={"userId": trained[0], "count": 60}).json()
            untrained = client.get(ROUTE, params={"userId": names.user_ids[1], "count": 5}).json()
            newcomer = client.get(ROUTE, params={"userId": 500, "count": 5}).json()
            stranger = client.get(ROUTE, params={"userId": 9999})
    finally:
        server.stop()
    # Assert
    assert refresh.events == 20 * 8 and refresh.local_users == 22  # 20 + root + newcomer
    seen = source.log.seen()[trained[0]]
    urls = [v["url"] for v in personal["data"]]
    assert personal["fallback"] is None and len(urls) == 60 - 8
    assert not seen & set(urls)
    scores = items @ users[trained[0]]
    expected = sorted(
        (i for i, v in enumerate(catalogue) if v.url not in seen), key=lambda i: -scores[i]
    )
    assert urls == [catalogue[i].url for i in expected]
    assert {u.split("/")[2] for u in urls} == {"tube.example", "b.example"}  # remote ones too
    assert untrained["fallback"] == "popular"
    assert not source.log.seen()[names.user_ids[1]] & {v["url"] for v in untrained["data"]}
    assert newcomer["fallback"] == "popular"
    assert [v["url"] for v in newcomer["data"]] == [v.url for v in catalogue[::-1][:5]]
    assert stranger.status_code == 404 and stranger.json()["code"] == "unknown_user"
