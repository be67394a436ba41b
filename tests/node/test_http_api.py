"""The HTTP API through real requests to a running uvicorn server on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from mpcrec.node.http_api import ApiServer
from mpcrec.node.recommender import Recommender
from tests.node.test_recommender import random_snapshot

pytestmark = pytest.mark.timeout(60)
ROUTE = "/api/v1/recommendations/videos"


@pytest.fixture
def served() -> Iterator[tuple[Recommender, httpx.Client]]:
    recommender = Recommender()
    server = ApiServer(recommender, port=0)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield recommender, client
    finally:
        server.stop()


def test_health_and_not_ready_before_the_first_model(
    served: tuple[Recommender, httpx.Client],
) -> None:
    recommender, client = served
    assert client.get("/healthz").status_code == 503
    early = client.get(ROUTE, params={"userId": 1})
    assert early.status_code == 503 and early.json()["code"] == "not_ready"
    recommender.publish(random_snapshot(version="round-3"))
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "modelVersion": "round-3", "videos": 500}


def test_recommendations_are_the_models_top_unseen_videos(
    served: tuple[Recommender, httpx.Client],
) -> None:
    recommender, client = served
    snapshot = random_snapshot()
    recommender.publish(snapshot)
    response = client.get(ROUTE, params={"userId": 7, "count": 12})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    direct = snapshot.recommend(7, 12)
    assert body["total"] == 12 and body["userId"] == 7 and body["fallback"] is None
    assert body["data"] == [{"uuid": v.uuid, "url": v.url, "score": v.score} for v in direct.videos]
    assert body["modelVersion"] == "v1"
    default = client.get(ROUTE, params={"userId": 7}).json()
    assert default["total"] == 10


def test_user_unknown_to_the_model_gets_popular_videos_marked_so(
    served: tuple[Recommender, httpx.Client],
) -> None:
    recommender, client = served
    snapshot = random_snapshot()
    recommender.publish(snapshot)
    body = client.get(ROUTE, params={"userId": 34, "count": 5}).json()
    assert body["fallback"] == "popular"
    assert [v["uuid"] for v in body["data"]] == [v.uuid for v in snapshot.recommend(34, 5).videos]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"userId": 1, "count": 0}, 400, "bad_count"),
        ({"userId": 1, "count": -3}, 400, "bad_count"),
        ({"userId": 1, "count": "ten"}, 400, "bad_count"),
        ({"userId": 1, "count": 101}, 400, "bad_count"),
        ({"userId": 1, "count": "1e3"}, 400, "bad_count"),
        ({"count": 5}, 400, "bad_user_id"),
        ({"userId": "root"}, 400, "bad_user_id"),
        ({"userId": 0}, 400, "bad_user_id"),
        ({"userId": 4242}, 404, "unknown_user"),
    ],
)
def test_errors_are_json_with_a_status(
    served: tuple[Recommender, httpx.Client], params: dict[str, object], status: int, code: str
) -> None:
    recommender, client = served
    recommender.publish(random_snapshot())
    response = client.get(ROUTE, params=params)  # type: ignore[arg-type]
    assert response.status_code == status
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["detail"]


def test_publishing_mid_traffic_serves_whole_answers_from_one_snapshot(
    served: tuple[Recommender, httpx.Client],
) -> None:
    recommender, client = served
    snapshots = {f"round-{k}": random_snapshot(seed=k, version=f"round-{k}") for k in range(4)}
    recommender.publish(snapshots["round-0"])
    answers: list[dict[str, object]] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=10) as own:
            while not stop.is_set():
                answers.append(own.get(ROUTE, params={"userId": 5, "count": 10}).json())

    def wait_for_answers(more: int) -> None:
        target, deadline = len(answers) + more, time.monotonic() + 20
        while len(answers) < target and time.monotonic() < deadline:
            time.sleep(0.005)

    worker = threading.Thread(target=traffic)
    worker.start()
    for name in ("round-1", "round-2", "round-3"):
        wait_for_answers(3)
        recommender.publish(snapshots[name])
    wait_for_answers(3)
    stop.set()
    worker.join(20)
    assert len(answers) > 10
    for answer in answers:
        version = str(answer["modelVersion"])
        expected = snapshots[version].recommend(5, 10)
        assert answer["data"] == [
            {"uuid": v.uuid, "url": v.url, "score": v.score} for v in expected.videos
        ]
    assert answers[-1]["modelVersion"] == "round-3"
    assert {a["modelVersion"] for a in answers} == set(snapshots)  # traffic spanned each swap
