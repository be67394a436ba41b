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
``GET /healthz``
    ``200 {"status": "ok", "modelVersion": ..., "videos": n}`` once a model is loaded,
    ``503 {"status": "starting"}`` before.

Errors are JSON with the HTTP status repeated in the body, in the spirit of PeerTube's
own (RFC 7807) errors: ``{"status": 400, "code": "bad_count", "detail": "..."}``; codes
``bad_user_id`` and ``bad_count`` (400), ``unknown_user`` (404), ``not_ready`` (503).

Handlers are ``async``: scoring one user over 100,000 videos takes about a millisecond
of numpy, less than a thread hand-off would add.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mpcrec import __version__
from mpcrec.node.recommender import MAX_COUNT, NotReady, Recommender, UnknownUser

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


def create_app(recommender: Recommender) -> FastAPI:
    """The FastAPI application serving ``recommender``'s current snapshot."""
    app = FastAPI(
        title="mpcrec node",
        version=__version__,
        description="Privacy-preserving video recommendations for a PeerTube instance.",
    )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        snapshot = recommender.snapshot
        if snapshot is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse(
            {"status": "ok", "modelVersion": snapshot.version, "videos": snapshot.n_items}
        )

    @app.get("/api/v1/recommendations/videos")
    async def recommendations(request: Request) -> JSONResponse:
        params = request.query_params
        user_id = _positive_int(params.get("userId"), "userId")
        if isinstance(user_id, str):
            return _error(400, "bad_user_id", user_id)
        count = _positive_int(params.get("count"), "count", default=DEFAULT_COUNT)
        if isinstance(count, str) or count > MAX_COUNT:
            detail = count if isinstance(count, str) else f"count must be at most {MAX_COUNT}"
            return _error(400, "bad_count", detail)
        try:
            answer = recommender.recommend(user_id, count)
        except UnknownUser as err:
            return _error(404, "unknown_user", err.message)
        except NotReady:
            return _error(503, "not_ready", "no model published yet; retry later")
        body: dict[str, Any] = {
            "total": len(answer.videos),
            "data": [{"uuid": v.uuid, "url": v.url, "score": v.score} for v in answer.videos],
            "userId": answer.user_id,
            "fallback": answer.fallback,
            "modelVersion": answer.model_version,
        }
        return JSONResponse(body)

    return app


class ApiServer:
    """uvicorn serving :func:`create_app` in a background thread (for the node and tests).

    Parameters
    ----------
    recommender:
        What to serve.
    host, port:
        Where to listen; port 0 picks a free one (read :attr:`port` after :meth:`start`).
    """

    def __init__(self, recommender: Recommender, *, host: str = "127.0.0.1", port: int = 0):
        config = uvicorn.Config(
            create_app(recommender),
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
        log.info("recommendations served on http://%s:%d", self.host, self.port)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.should_exit = True
        self._thread.join(timeout)

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        return f"http://{self.host}:{self.port}"
