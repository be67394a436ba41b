"""The OpenAPI description of the node's recommendation API (served at :data:`OPENAPI_URL`).

The handlers read the query themselves (so errors have the API's JSON shape, not FastAPI's
422), which hides the parameters from FastAPI's generated schema: they are declared here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

OPENAPI_URL = "/api/v1/openapi.json"

_ERROR = {
    "type": "object",
    "required": ["status", "code", "detail"],
    "properties": {
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
    },
}
_LIST = {
    "type": "object",
    "required": ["total", "data", "userId", "fallback", "modelVersion"],
    "properties": {
        "total": {"type": "integer"},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["uuid", "url", "score"],
                "properties": {
                    "uuid": {"type": "string", "description": "PeerTube's video.uuid"},
                    "url": {"type": "string", "description": "the video's ActivityPub URL"},
                    "score": {"type": "number"},
                },
            },
        },
        "userId": {"type": ["integer", "null"]},
        "videoId": {"type": "string", "description": "present for related videos"},
        "fallback": {"type": ["string", "null"], "enum": ["popular", None]},
        "modelVersion": {"type": "string"},
    },
}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


RECOMMENDATIONS_DOC: dict[str, Any] = {
    "summary": "A user's recommendations, or the videos related to a video",
    "description": (
        "With userId alone: the user's personal list. With videoId: the videos to show "
        "next to it (item-to-item), personalised when userId is given too."
    ),
    "openapi_extra": {
        "parameters": [
            _query("userId", "a local PeerTube user.id", {"type": "integer", "minimum": 1}),
            _query(
                "videoId", "a video UUID (related videos)", {"type": "string", "format": "uuid"}
            ),
            _query(
                "count",
                "how many videos",
                {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            ),
        ],
        "responses": {
            "200": _json("the videos, best first", _LIST),
            "400": _json("bad_user_id, bad_video_id or bad_count", _ERROR),
            "401": _json("unauthorized: the shared secret is missing or wrong", _ERROR),
            "404": _json("unknown_user or unknown_video", _ERROR),
            "503": _json("not_ready: no model yet", _ERROR),
        },
    },
}


def add_security(app: FastAPI) -> None:
    """Make ``app``'s schema say that every route needs the bearer secret."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            built = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            built.setdefault("components", {})["securitySchemes"] = {
                "sharedSecret": {"type": "http", "scheme": "bearer"}
            }
            built["security"] = [{"sharedSecret": []}]
            app.openapi_schema = built
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
