"""The HTTP API through real requests to a running uvicorn server on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from mpcrec.node.http_api import ApiServer
from mpcrec.node.recommender import Recommender
from tests.node.test_recommender import random_snapshot, video_uuid

pytestmark = pytest.mark.timeout(60)
ROUTE = "/api/v1/recommendations/videos"
SECRET = "s3cret-" + "x" * 40
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def served() -> Iterator[tuple[Recommender, httpx.Client]]:
    recommender = Recommender()
    server = ApiServer(recommender, secret=SECRET.encode(), port=0)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10, headers=AUTH) as client:
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
        ({"videoId": "not-a-uuid"}, 400, "bad_video_id"),
        ({"videoId": video_uuid(3), "userId": "x"}, 400, "bad_user_id"),
        ({"videoId": video_uuid(3), "count": 0}, 400, "bad_count"),
        ({"videoId": "11111111-1111-4111-8111-111111111111"}, 404, "unknown_video"),
        ({"videoId": video_uuid(3), "userId": 4242}, 404, "unknown_user"),
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
        with httpx.Client(base_url=str(client.base_url), timeout=10, headers=AUTH) as own:
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


def test_related_videos_for_an_anonymous_viewer_and_for_a_user(
    served: tuple[Recommender, httpx.Client],
) -> None:
    recommender, client = served
    snapshot = random_snapshot()
    recommender.publish(snapshot)
    anonymous = client.get(ROUTE, params={"videoId": video_uuid(9), "count": 7}).json()
    personal = client.get(ROUTE, params={"videoId": video_uuid(9), "userId": 4}).json()
    assert anonymous["userId"] is None and anonymous["videoId"] == video_uuid(9)
    assert [v["uuid"] for v in anonymous["data"]] == [
        v.uuid for v in snapshot.related(video_uuid(9), 7).videos
    ]
    assert personal["userId"] == 4 and personal["total"] == 10
    assert [v["uuid"] for v in personal["data"]] == [
        v.uuid for v in snapshot.related(video_uuid(9), 10, 4).videos
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-" + "x" * 40},
        {"Authorization": f"Basic {SECRET}"},
        {"Authorization": f"Bearer {SECRET[:-1]}"},
        {"Authorization": "Bearer"},
    ],
)
def test_without_the_secret_every_path_is_401_and_says_nothing_about_users(
    served: tuple[Recommender, httpx.Client], headers: dict[str, str]
) -> None:
    recommender, client = served
    recommender.publish(random_snapshot())
    with httpx.Client(base_url=str(client.base_url), timeout=10, headers=headers) as stranger:
        answers = [
            stranger.get(ROUTE, params={"userId": 7}),  # a local user
            stranger.get(ROUTE, params={"userId": 4242}),  # not one
            stranger.get(ROUTE, params={"userId": "root"}),
            stranger.get(ROUTE, params={"videoId": video_uuid(1)}),
            stranger.get("/healthz"),
            stranger.get("/api/v1/openapi.json"),
            stranger.get("/no/such/path"),
            stranger.post(ROUTE),
        ]
    assert {a.status_code for a in answers} == {401}
    assert len({a.content for a in answers}) == 1  # byte-identical whatever was asked
    assert answers[0].json()["code"] == "unauthorized"
    assert answers[0].headers["www-authenticate"].startswith("Bearer")


def test_the_openapi_schema_describes_the_route_and_its_secret(
    served: tuple[Recommender, httpx.Client],
) -> None:
    _, client = served
    schema = client.get("/api/v1/openapi.json").json()
    route = schema["paths"][ROUTE]["get"]
    assert {p["name"] for p in route["parameters"]} == {"userId", "videoId", "count"}
    assert {"200", "400", "401", "404", "503"} <= set(route["responses"])
    assert schema["components"]["securitySchemes"]["sharedSecret"]["scheme"] == "bearer"
    assert schema["security"] == [{"sharedSecret": []}]
    assert client.get("/docs").status_code == 404
