"""The node's HTTP API: recommendations PeerTube (or a plugin) asks for, on FastAPI + uvicorn.

Routes
------
``GET /api/v1/recommendations/videos?userId=<id>&count=<n>``
    The route PeerTube's maintainer proposed for an external recommender. ``userId`` is a
    local PeerTube user id; ``count`` is 1 to 100 (PeerTube's own page maximum), default
    10. Answers ``200`` with PeerTube's list shape::

        {"total": 10, "data": [{"uuid": "...", "url": "...", "score": 1.23}, ...],
         "userId": 5, "fallback": null, "modelVersion": "round-12"}

    ``fallback`` is ``"popular"`` when the model has no embedding for the user and the
    videos are the federation's most popular ones the user has not seen.
``GET /api/v1/recommendations/videos?videoId=<uuid>[&userId=<id>]&count=<n>``
    Related videos: the videos to show next to ``videoId`` (item-to-item from the shared
    model, see :meth:`~mpcrec.node.recommender.ModelSnapshot.related`), personalised and
    without the user's seen videos when ``userId`` is given. Same shape, plus
    ``"videoId"``; ``"userId"`` is ``null`` for an anonymous viewer.
``GET /healthz``
    ``200 {"status": "ok", "modelVersion": ..., "videos": n}`` once a model is loaded,
    ``503 {"status": "starting"}`` before.
``GET /api/v1/openapi.json``
    The OpenAPI schema of these routes.

Every request needs the shared secret (``Authorization: Bearer <secret>``,
:mod:`mpcrec.node.api_auth`): without it ``401`` on every path, before anything else.

Errors are JSON with the HTTP status repeated in the body, in the spirit of PeerTube's
own (RFC 7807) errors: ``{"status": 400, "code": "bad_count", "detail": "..."}``; codes
``bad_user_id``, ``bad_video_id`` and ``bad_count`` (400), ``unauthorized`` (401),
``unknown_user`` and ``unknown_video`` (404), ``not_ready`` (503).

Handlers are ``async``: scoring one user over 100,000 videos takes about a millisecond
of numpy, less than a thread hand-off would add.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
import uuid
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mpcrec import __version__
from mpcrec.node.api_auth import BearerAuth
from mpcrec.node.api_openapi import OPENAPI_URL, RECOMMENDATIONS_DOC, add_security
from mpcrec.node.recommender import (
    MAX_COUNT,
    NotReady,
    Recommendation,
    Recommender,
    UnknownUser,
    UnknownVideo,
)

DEFAULT_COUNT = 10
log = logging.getLogger(__name__)


def _error(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"status": status, "code": code, "detail": detail}, status_code=status)


def _positive_int(raw: str | None, name: str, *, default: int | None = None) -> int | str:
    """The parsed value, or an error message naming the parameter and the bad value."""
    if raw is None or raw == "":
        if default is not None:
            return default
        return f"{name} is required"
    if not raw.isdecimal() or len(raw) > 12:
        return f"{name} must be a positive integer, got {raw!r}"
    value = int(raw)
    return value if value > 0 else f"{name} must be a positive integer, got {raw!r}"


def _video_id(raw: str) -> str | None:
    """The canonical UUID in ``raw`` (PeerTube's ``video.uuid``), or ``None``."""
    try:
        return str(uuid.UUID(raw)) if len(raw) == 36 else None
    except ValueError:
        return None


def _body(answer: Recommendation) -> dict[str, Any]:
    return {
        "total": len(answer.videos),
        "data": [{"uuid": v.uuid, "url": v.url, "score": v.score} for v in answer.videos],
        "userId": answer.user_id,
        "fallback": answer.fallback,
        "modelVersion": answer.model_version,
    }


def _answer(recommender: Recommender, params: Any) -> JSONResponse:
    """One recommendations request: personal (``userId``) or related (``videoId``)."""
    raw_video = params.get("videoId")
    raw_user = params.get("userId")
    user_id = None if raw_video and not raw_user else _positive_int(raw_user, "userId")
    if isinstance(user_id, str):
        return _error(400, "bad_user_id", user_id)
    count = _positive_int(params.get("count"), "count", default=DEFAULT_COUNT)
    if isinstance(count, str) or count > MAX_COUNT:
        detail = count if isinstance(count, str) else f"count must be at most {MAX_COUNT}"
        return _error(400, "bad_count", detail)
    video_id = _video_id(raw_video) if raw_video else None
    if raw_video and video_id is None:
        return _error(400, "bad_video_id", f"videoId must be a video UUID, got {raw_video!r}")
    try:
        if video_id is not None:
            body = _body(recommender.related(video_id, count, user_id))
            return JSONResponse({**body, "videoId": video_id})
        assert user_id is not None
        return JSONResponse(_body(recommender.recommend(user_id, count)))
    except UnknownUser as err:
        return _error(404, "unknown_user", err.message)
    except UnknownVideo as err:
        return _error(404, "unknown_video", err.message)
    except NotReady:
        return _error(503, "not_ready", "no model published yet; retry later")


def create_app(recommender: Recommender) -> FastAPI:
    """The FastAPI application serving ``recommender``'s current snapshot."""
    app = FastAPI(
        title="mpcrec node",
        version=__version__,
        description="Privacy-preserving video recommendations for a PeerTube instance.",
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        snapshot = recommender.snapshot
        if snapshot is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse(
            {"status": "ok", "modelVersion": snapshot.version, "videos": snapshot.n_items}
        )

    @app.get("/api/v1/recommendations/videos", **RECOMMENDATIONS_DOC)
    async def recommendations(request: Request) -> JSONResponse:
        return _answer(recommender, request.query_params)

    add_security(app)
    return app


class ApiServer:
    """uvicorn serving :func:`create_app` in a background thread (for the node and tests).

    Parameters
    ----------
    recommender:
        What to serve.
    secret:
        The shared secret every request must carry (:func:`~mpcrec.node.api_auth.load_secret`).
    host, port:
        Where to listen; port 0 picks a free one (read :attr:`port` after :meth:`start`).
        Loopback by default; any other address is logged as a warning.
    """

    def __init__(
        self, recommender: Recommender, *, secret: bytes, host: str = "127.0.0.1", port: int = 0
    ):
        config = uvicorn.Config(
            BearerAuth(create_app(recommender), secret),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="mpcrec-http", daemon=True)
        self.host = host
        self.port = port

    def start(self, timeout: float = 10.0) -> None:
        """Start serving and wait until the socket listens."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"HTTP API did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        sockets = [s for server in self._server.servers for s in server.sockets]
        self.port = int(sockets[0].getsockname()[1])
        log.info(
            "recommendations served on http://%s:%d (authenticated: shared secret required)",
            self.host,
            self.port,
        )
        if not _is_loopback(self.host):
            log.warning(
                "the recommendation API listens on %s, not loopback: keep it reachable by "
                "PeerTube only (firewall, or listen on 127.0.0.1)",
                self.host,
            )

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.should_exit = True
        self._thread.join(timeout)

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://{self.host}:{self.port}"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
