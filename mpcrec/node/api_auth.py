"""The recommendation API's shared secret: read from a private file, checked on every request.

The node and PeerTube's plugin share one secret. The plugin sends it with every request as
``Authorization: Bearer <secret>``; the node answers ``401`` to any request without it, on
every path, before any routing or parsing, so a caller without the secret learns nothing,
not even whether a route, a user id or a video exists. The comparison is constant-time
(:func:`hmac.compare_digest` over SHA-256 digests, so the length does not show either).

The file holds the secret on one line (surrounding whitespace ignored), at least
:data:`MIN_SECRET_CHARS` characters, and must be readable by its owner only (mode 0600 or
0400): ``python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > api.secret &&
chmod 600 api.secret``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from mpcrec.errors import ConfigError

MIN_SECRET_CHARS = 32
SECRET_HINT = (
    "python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > api.secret "
    "&& chmod 600 api.secret, and give the same secret to the PeerTube plugin"
)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


def load_secret(path: Path) -> bytes:
    """The API secret in ``path``, checked: a private file, long enough.

    Raises
    ------
    ConfigError
        If the file is missing, readable or writable by others than its owner, or too short.
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"cannot read the API secret file {path}: {err}", hint=SECRET_HINT
        ) from err
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the API secret file {path} is open to other users (mode {stat.S_IMODE(mode):04o})",
            hint=f"chmod 600 {path}",
        )
    if len(text) < MIN_SECRET_CHARS or "\n" in text:
        raise ConfigError(
            f"the API secret in {path} must be one line of at least {MIN_SECRET_CHARS} "
            f"characters, got {len(text)}",
            hint=SECRET_HINT,
        )
    return text.encode("utf-8")


def bearer_matches(header: bytes | None, secret: bytes) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer <secret>`` (constant-time)."""
    if header is None or header[:7].lower() != b"bearer ":
        return False
    presented = hashlib.sha256(header[7:].strip()).digest()
    return hmac.compare_digest(presented, hashlib.sha256(secret).digest())


class BearerAuth:
    """ASGI middleware: ``401`` for any HTTP request without the shared secret.

    Parameters
    ----------
    app:
        The application behind it.
    secret:
        The shared secret (:func:`load_secret`).
    """

    def __init__(self, app: Asgi, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_CHARS:
            raise ConfigError(f"the API secret must have at least {MIN_SECRET_CHARS} characters")
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization")
        if bearer_matches(header, self.secret):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "status": 401,
                "code": "unauthorized",
                "detail": "this API needs the shared secret: Authorization: Bearer <secret>",
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="mpcrec"'),
        ]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})
