"""``mpcrec node`` on a real PeerTube database: trains in a federation, serves HTTP itself.

A launcher and four node processes (plaintext aggregation): three MovieLens shards and
``tube-pt``, whose users live in a PostgreSQL PeerTube database (300 MovieLens users
mapped in by :mod:`mpcrec.data.peertube_mirror`, plus signals on four videos the
federation does not know). ``tube-pt`` reaches the launcher through a TCP relay that
counts every byte it sends.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
import pytest
import yaml

from launch.sqlite_store import SQLiteStore
from mpcrec.data.interactions import Interactions
from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.peertube_mirror import (
    InstanceMap,
    keep_users,
    movielens_ratings,
    movielens_signals,
    write_instance,
)
from mpcrec.data.peertube_settings import PeerTubeSettings
from mpcrec.data.split import leave_last_out
from mpcrec.errors import ConfigError
from mpcrec.federation.plain import seal_plain
from mpcrec.node.peertube_source import PeerTubeSource
from mpcrec.node.peertube_trainer import Catalogue, PeerTubeTrainer
from tests.net import free_port
from tests.postgres import READER_ROLE, PeerTubeDatabase, synthetic_table
from tests.system.federation import Federation, published

ROUTE = "/api/v1/recommendations/videos"
API_SECRET = "node-api-secret-" + "z" * 32
PT = "tube-pt"
SHARDS = ["ml-0", "ml-1", "ml-2"]
DIM = 32  # the MovieLens trainer's dimension (FEDAVG)
EXTRA = [f"local-only-{k}" for k in range(4)]  # videos the federation does not know
NEWCOMER = 5000


class CountingRelay:
    """A TCP relay to ``upstream`` counting the bytes its clients send (all connections)."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.sent = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:  # the launcher is not listening yet: the node will retry
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(65536):
                if count:
                    with self._lock:
                        self.sent += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._listener.close()


def _mirror(db: PeerTubeDatabase) -> tuple[Interactions, InstanceMap, np.ndarray]:
    """300 MovieLens users as one PeerTube instance, with views of four unknown videos."""
    table = keep_users(load_movielens_100k(), 300)
    rng = np.random.default_rng(0)
    extra_users = rng.choice(table.n_users, size=25, replace=False)
    users = [table.user_ids[u] for u in table.users.tolist()]
    items = [table.item_ids[i] for i in table.items.tolist()]
    times = table.timestamps.tolist()
    for k, u in enumerate(extra_users.tolist()):
        users.append(table.user_ids[u])
        items.append(EXTRA[k % len(EXTRA)])
        times.append(1_700_000_000.0 + k)
    full = Interactions.from_columns(users, items, times, catalogue=[*table.item_ids, *EXTRA])
    likes, dislikes, saved = movielens_signals(full, movielens_ratings())
    with psycopg.connect(db.admin_dsn) as conn:
        names = write_instance(
            conn,
            full,
            host="tube.example",
            origin_hosts=("tube.example", "a.example", "b.example"),
            likes=likes,
            dislikes=dislikes,
            playlist=saved,
        )
        # signed up, no history yet
        conn.execute(
            'INSERT INTO "user" ("id", "username", "email", "role", "videoQuota", '
            '"videoQuotaDaily", "createdAt", "updatedAt") '
            f"VALUES ({NEWCOMER}, 'newcomer', 'n@example.invalid', 2, -1, -1, now(), now())"
        )
        conn.execute(
            'INSERT INTO "account" ("id", "name", "userId", "createdAt", "updatedAt") '
            f"VALUES ({NEWCOMER}, 'newcomer', {NEWCOMER}, now(), now())"
        )
    return full, names, extra_users


def _write_catalogue(path: Path, full: Interactions, names: InstanceMap) -> list[str]:
    """The federation's catalogue in the MovieLens trainers' item order (UUIDs on even lines)."""
    url = dict(zip(full.item_ids, names.video_urls, strict=True))
    uuid = dict(zip(full.item_ids, names.video_uuids, strict=True))
    order = leave_last_out(load_movielens_100k()).train.item_ids
    lines = [f"{url[i]} {uuid[i]}" if k % 2 == 0 else url[i] for k, i in enumerate(order)]
    path.write_text("\n".join(lines) + "\n")
    return [url[i] for i in order]


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    with Federation(tmp_path, [PT, *SHARDS]) as fed:
        yield fed


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_peertube_node_trains_in_the_federation_and_serves_its_users(
    federation: Federation, peertube_db: PeerTubeDatabase
) -> None:
    # Prepare: the PeerTube database, the public catalogue, the federation's files
    full, names, extra_users = _mirror(peertube_db)
    catalogue_urls = _write_catalogue(federation.root / "catalogue.txt", full, names)
    listen = f"127.0.0.1:{free_port()}"
    secret_file = federation.root / "api.secret"
    secret_file.write_text(API_SECRET)
    secret_file.chmod(0o600)
    shard = {"kind": "movielens", "instances": 3, "seed": 0, "rounds": 2}
    federation.write(
        model={
            "n_items": len(catalogue_urls),
            "dim": DIM,
            "aggregation": "plaintext",
            "server_lr": 1.0,
            "server_momentum": 0.0,
            "clip_norm": 1000.0,
        },
        rounds={
            "committee_size": 3,
            "min_contributors": 4,
            "cooldown": 1,
            "commit_s": 5,  # each round waits both out whole (its beacon is due after them)
            "reveal_s": 5,
            "collect_s": 120,
            "compute_s": 60,
        },
        schedule={"rounds": 2, "min_instances": 4},
        node_extra={
            PT: {
                "trainer": {"kind": "peertube", "catalogue": "catalogue.txt", "rounds": 2},
                "peertube": {
                    "dsn": peertube_db.reader_dsn,
                    "settle_seconds": 0,
                    "listen": listen,
                    "api_secret_file": str(secret_file),
                },
            },
            **{name: {"trainer": {**shard, "index": k}} for k, name in enumerate(SHARDS)},
        },
    )
    relay = CountingRelay(federation.launcher_address)
    config_path = federation.root / f"{PT}.yaml"
    config: dict[str, Any] = yaml.safe_load(config_path.read_text())
    config_path.write_text(yaml.safe_dump({**config, "launcher": relay.address}))
    base = f"http://{listen}"

    # Execute: run until two rounds publish and the node serves the second model
    try:
        federation.start("launcher")
        for name in [PT, *SHARDS]:
            federation.start(name)
        rounds = federation.wait_for(lambda rs: len(published(rs)) >= 2, 360, "2 rounds")
        headers = {"Authorization": f"Bearer {API_SECRET}"}
        with httpx.Client(base_url=base, timeout=10, headers=headers) as client:
            deadline = time.monotonic() + 60
            while client.get("/healthz").json().get("modelVersion") != "v2":
                assert time.monotonic() < deadline, federation.log(PT)
                time.sleep(0.2)
            known_user = names.user_ids[0]
            personal = client.get(ROUTE, params={"userId": known_user, "count": 10}).json()
            newcomer = client.get(ROUTE, params={"userId": NEWCOMER, "count": 5}).json()
            stranger = client.get(ROUTE, params={"userId": 999_999})
            # the launcher goes away: the node serves its last model, quietly; then it is back
            sent_before_outage = relay.sent
            node_log = federation.root / f"{PT}.log"
            mark = node_log.stat().st_size
            federation.kill("launcher")
            outage = []
            for _ in range(12):  # 6 s: several backoff attempts
                during = client.get(ROUTE, params={"userId": known_user, "count": 10})
                body = during.json()
                outage.append((during.status_code, body.get("modelVersion"), body.get("data")))
                time.sleep(0.5)
            federation.start("launcher")
            deadline = time.monotonic() + 90
            while "launcher reachable again" not in node_log.read_text()[mark:]:
                assert time.monotonic() < deadline, federation.log(PT)
                time.sleep(0.2)
            after_outage = client.get(ROUTE, params={"userId": known_user, "count": 10}).json()
        federation.stop_all()
    finally:
        relay.close()

    # Assert: through the outage every answer came from the last model; one line per change
    assert outage == [(200, "v2", personal["data"])] * len(outage)
    assert after_outage["data"] == personal["data"]
    outage_log = node_log.read_text()[mark:]
    assert len(re.findall(r"launcher unreachable \(", outage_log)) == 1, outage_log
    assert "still serving model v2" in outage_log
    assert len(re.findall(r"launcher reachable again after \d+ attempts", outage_log)) == 1
    assert re.search(r"registered \(model v2\)", outage_log)

    # Assert: the answers are the published model's, for this instance's own users
    store = SQLiteStore(federation.db)
    try:
        model_v2 = store.get_model(2)
        assert model_v2 is not None
        items = model_v2.array().astype(np.float32)
    finally:
        store.close()
    with np.load(federation.root / "nodes" / PT / "user_emb.npz") as kept:  # kept at home
        embeddings = dict(zip(kept["users"].tolist(), kept["emb"], strict=True))
    assert len(embeddings) == 300 and NEWCOMER not in embeddings
    seen = {names.video_urls[i] for i in full.items[full.users == 0].tolist()}  # user index 0
    scores = np.einsum("ij,j->i", items, embeddings[known_user].astype(np.float32))
    unseen = [k for k, url in enumerate(catalogue_urls) if url not in seen]
    expected = sorted(unseen, key=lambda k: -scores[k])[:10]
    assert personal["fallback"] is None and personal["modelVersion"] == "v2"
    assert [v["url"] for v in personal["data"]] == [catalogue_urls[k] for k in expected]
    np.testing.assert_allclose(
        [v["score"] for v in personal["data"]], scores[expected], rtol=1e-5, atol=1e-6
    )
    uuid_of = dict(zip(names.video_urls, names.video_uuids, strict=True))
    assert all(v["uuid"] == uuid_of[v["url"]] for v in personal["data"])  # odd lines too
    popular = np.argsort(-items[:, -1], kind="stable")[:5]  # the federation's item bias
    assert newcomer["fallback"] == "popular"
    assert [v["url"] for v in newcomer["data"]] == [catalogue_urls[k] for k in popular]
    assert stranger.status_code == 404 and stranger.json()["code"] == "unknown_user"

    # Assert: incremental reads, unknown videos skipped and counted
    log = (federation.root / f"{PT}.log").read_text()
    reads = [int(n) for n in re.findall(r"PeerTube read (\d+) new or changed rows", log)]
    skipped = re.findall(r"skipped (\d+) rows on (\d+) videos the federation does not know", log)
    assert len(reads) == 2 and reads[0] > len(full) and reads[1] == 0
    assert skipped == [(str(len(extra_users)), str(len(EXTRA)))] * 2

    # Assert: all the node sent is its sealed updates (and results when on the committee)
    sealed = len(
        seal_plain(
            np.zeros(len(catalogue_urls) * DIM), round_id=1, model_hash=bytes(32), contributor=PT
        )
    )
    uploads = [int(n) for n in re.findall(r"uploaded (\d+) bytes", log)]
    assert uploads == [3 * sealed] * 2  # one plaintext envelope per committee member
    results = sum(PT in r.committee for r in published(rounds)[:2])
    model_bytes = 8 * len(catalogue_urls) * DIM
    payload = sum(uploads) + results * model_bytes
    print(f"{PT} sent {relay.sent} bytes: {payload} of updates and results, {len(full)} rows")
    # the rest (TLS, HTTP/2, registration, commits, reveals, model requests) is small: far
    # less than its signal rows would take (a few bytes each, and there are ~30,000)
    assert payload <= sent_before_outage < payload * 1.01 + 64 * 1024


def test_catalogue_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.txt"
    path.write_text("https://a.example/videos/watch/1 u-1\nhttps://b.example/videos/watch/2\n")
    catalogue = Catalogue.load(path)
    assert catalogue.index["https://b.example/videos/watch/2"] == 1
    assert catalogue.uuids == ("u-1", "")
    with pytest.raises(ConfigError, match="2 videos but the federation's model has 3"):
        catalogue.check(3)
    with pytest.raises(ConfigError, match="SHA-256"):
        Catalogue.load(path, sha256="00" * 32)
    path.write_text("https://a.example/v/1\nhttps://a.example/v/1\n")
    with pytest.raises(ConfigError, match=r"catalogue.txt:2: .* already item 0"):
        Catalogue.load(path)
    path.write_text("not-a-url\n")
    with pytest.raises(ConfigError, match=r"catalogue.txt:1: expected 'URL \[UUID\]'"):
        Catalogue.load(path)


@pytest.mark.timeout(120)
def test_trainer_follows_peertube_incrementally_and_keeps_users_at_home(
    peertube_db: PeerTubeDatabase, tmp_path: Path
) -> None:
    # Prepare: 20 users, 60 videos; the federation knows 50 of them, in its own order
    table = synthetic_table(n_users=20, n_items=60, per_user=8)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        names = write_instance(conn, table, host="tube.example")
    known = list(reversed(names.video_urls[:50]))
    (tmp_path / "catalogue.txt").write_text("\n".join(known) + "\n")
    settings = PeerTubeSettings(dsn=peertube_db.reader_dsn, settle_seconds=0)
    state = tmp_path / "state"

    def trainer() -> PeerTubeTrainer:
        catalogue = Catalogue.load(tmp_path / "catalogue.txt")
        return PeerTubeTrainer(
            PeerTubeSource(settings), catalogue, rounds=5, seed=0, state_dir=state, name="tube-a"
        )

    node = trainer()
    model = np.random.default_rng(1).normal(0.0, 0.1, (50, 8))
    pairs = {
        (names.user_ids[u], names.video_urls[i])
        for u, i in zip(table.users.tolist(), table.items.tolist(), strict=True)
    }

    # Execute: a round, then user 2 clears their history and user 3 watches something new
    delta, weight = node.update(model, 0)
    first = node.table()
    watched_by_3 = {url for user, url in pairs if user == 3}
    new_url = next(url for url in known if url not in watched_by_3)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        conn.execute('DELETE FROM "userVideoHistory" WHERE "userId" = 2')
        conn.execute(
            'INSERT INTO "userVideoHistory" ("createdAt", "updatedAt", "currentTime", '
            '"videoId", "userId") SELECT now(), now(), 5, "id", 3 FROM "video" WHERE "url" = %s',
            (new_url,),
        )
    _, weight_2 = node.update(model, 1)
    second = node.table()
    served = node.snapshot(model, 1)
    restarted, kept = trainer(), dict(node.user_emb)
    with psycopg.connect(peertube_db.admin_dsn, autocommit=True) as conn:  # PeerTube away
        conn.execute(f'REVOKE CONNECT ON DATABASE "{peertube_db.name}" FROM {READER_ROLE}')
    _, weight_3 = node.update(model, 2)

    # Assert: events mapped to the catalogue's rows, videos outside it left out
    data = first.data
    mapped = {
        (first.user_ids[u], known[i])
        for u, i in zip(data.users.tolist(), data.items.tolist(), strict=True)
    }
    assert mapped == {(u, url) for u, url in pairs if url in set(known)}
    assert weight == len(mapped) and first.skipped_rows == len(pairs) - len(mapped)
    assert first.skipped_videos == len({url for _, url in pairs} - set(known))
    assert delta.shape == model.shape and np.linalg.norm(delta) > 0
    # Assert: the second read saw only the change; user 2's embedding is gone with the history
    assert weight_2 == weight - len([1 for u, url in mapped if u == 2]) + 1
    assert 2 not in second.user_ids and 2 not in node.user_emb and 3 in node.user_emb
    assert served.recommend(2, 5).fallback == "popular"
    shown = served.recommend(3, 50)
    assert shown.fallback is None and new_url not in {v.url for v in shown.videos}
    assert len(shown.videos) == 50 - len([url for url in watched_by_3 | {new_url} if url in known])
    # Assert: kept at home across a restart, readable by the node's user only
    assert set(restarted.user_emb) == set(kept)
    assert all(np.array_equal(restarted.user_emb[u], e) for u, e in kept.items())
    assert (state / "user_emb.npz").stat().st_mode & 0o777 == 0o600
    # Assert: PeerTube unreachable: the node trains on its last read instead of stopping
    assert weight_3 == weight_2 and 3 in node.user_emb


@pytest.mark.timeout(120)
def test_a_user_level_round_clips_each_peertube_user_and_sums_them(
    peertube_db: PeerTubeDatabase, tmp_path: Path
) -> None:
    """Issue 14: every user drawn (q = 1), each one's update clipped to C_u = 0.01 at home:
    the instance's sum is at most 20 users times C_u, and no weight comes with it."""
    table = synthetic_table(n_users=20, n_items=30, per_user=6)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        names = write_instance(conn, table, host="tube.example")
    (tmp_path / "catalogue.txt").write_text("\n".join(names.video_urls) + "\n")
    settings = PeerTubeSettings(dsn=peertube_db.reader_dsn, settle_seconds=0)
    model = np.random.default_rng(1).normal(0.0, 0.1, (30, 8))

    def user_level(clip: float, state: str) -> tuple[PeerTubeTrainer, np.ndarray]:
        catalogue = Catalogue.load(tmp_path / "catalogue.txt")
        node = PeerTubeTrainer(
            PeerTubeSource(settings), catalogue, rounds=5, seed=0, state_dir=tmp_path / state
        )
        delta = node.update_user_level(
            model, 0, user_rate=1.0, user_clip_norm=clip, rng=np.random.default_rng(0)
        )
        return node, delta

    node, delta = user_level(0.01, "clipped")
    _, loose = user_level(1e3, "loose")

    assert delta.shape == model.shape
    assert 0 < np.linalg.norm(delta) <= 20 * 0.01 + 1e-9 < np.linalg.norm(loose)
    assert len(node.user_emb) == 20  # the users' embeddings stay at home, all trained
