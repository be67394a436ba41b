"""A randomness beacon over drand's HTTP API: the launcher's client, the local beacon, and
the ``beacon`` section of ``federation.yaml``.

drand's API (what :class:`HttpBeacon` reads and :class:`LocalBeacon` serves)::

    GET {url}/info             {"public_key", "period", "genesis_time", "hash", "schemeID"}
    GET {url}/public/{round}   {"round", "randomness", "signature"[, "previous_signature"]}
    GET {url}/public/latest    the latest round

A round not yet due answers 404 (drand answers 425 or 404). Every value is checked against
the chain pinned in the config (:mod:`mpcrec.crypto.beacon`), never trusted from the wire.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

from mpcrec.crypto.beacon import Beacon, BeaconError, ChainInfo, LocalSigner, beacon_error
from mpcrec.errors import ConfigError

log = logging.getLogger("mpcrec.beacon")

OPT_OUT = "unsafe_commit_reveal_only"
_HINT = (
    "set `beacon: {url: URL, chain_info: FILE}` (drand's /info document of the chain, pinned; "
    "`mpcrec beacon serve` runs a local one), or opt out with "
    f"`beacon: {{{OPT_OUT}: true}}` (the last revealer can then bias the committee)"
)


class BeaconSource(Protocol):
    """Where beacon rounds come from: a drand HTTP endpoint or a local chain."""

    chain: ChainInfo

    def fetch(self, round_number: int) -> Beacon | None:
        """Round ``round_number``'s beacon, or ``None`` while it is not available."""
        ...


def read_chain_info(path: Path) -> ChainInfo:
    """A pinned chain: drand's ``/info`` JSON document in a file."""
    try:
        return ChainInfo.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError) as err:
        raise ConfigError(f"cannot read the beacon chain info {path}: {err}", hint=_HINT) from None
    except BeaconError as err:
        raise ConfigError(f"{path}: {err.message}", hint=_HINT) from None


@dataclass(frozen=True)
class BeaconConfig:
    """``federation.yaml``'s ``beacon`` section (required: no section is an error).

    Attributes
    ----------
    url:
        The chain's HTTP base (``https://<drand relay>/<chain hash>``, or the local beacon).
    chain_info:
        A file holding the chain's ``/info`` document: the public key every beacon is
        verified with (pinned here, never taken from the relay).
    unsafe_commit_reveal_only:
        The named opt-out: no beacon, the commit-reveal seed alone.
    """

    url: str = ""
    chain_info: Path | None = None
    unsafe_commit_reveal_only: bool = False

    def __post_init__(self) -> None:
        if self.unsafe_commit_reveal_only:
            if self.url or self.chain_info:
                raise ConfigError(f"beacon: `{OPT_OUT}` together with a url or chain_info")
            return
        if not self.url or self.chain_info is None:
            raise ConfigError("beacon: no randomness beacon configured", hint=_HINT)

    def source(self) -> HttpBeacon | None:
        """The configured beacon (its ``/info`` checked against the pinned chain), or
        ``None`` with the opt-out."""
        if self.unsafe_commit_reveal_only or self.chain_info is None:
            return None
        beacon = HttpBeacon(self.url, read_chain_info(self.chain_info))
        beacon.check_info()
        return beacon


def _get_json(url: str, timeout: float) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return json.loads(reply.read())


class HttpBeacon:
    """drand's HTTP API, verified against a pinned chain."""

    def __init__(self, url: str, chain: ChainInfo, *, timeout_s: float = 2.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"beacon url {url!r} is not http(s)", hint=_HINT)
        self.url, self.chain, self.timeout_s = url.rstrip("/"), chain, timeout_s

    def check_info(self) -> None:
        """Raise :class:`ConfigError` if the endpoint serves another chain than the pinned
        one (a warning only while it cannot be reached: rounds wait for it)."""
        try:
            served = ChainInfo.from_json(_get_json(f"{self.url}/info", self.timeout_s))
        except (OSError, ValueError, BeaconError) as err:
            log.warning("beacon %s/info not readable yet: %s", self.url, err)
            return
        if (served.public_key, served.scheme) != (self.chain.public_key, self.chain.scheme):
            raise ConfigError(
                f"the beacon at {self.url} serves another chain than the pinned chain_info",
                hint="pin that chain's /info document, or point `beacon.url` at the pinned chain",
            )

    def fetch(self, round_number: int) -> Beacon | None:
        """Round ``round_number``, verified; ``None`` while unavailable or invalid."""
        try:
            beacon = Beacon.from_json(
                _get_json(f"{self.url}/public/{round_number}", self.timeout_s)
            )
        except urllib.error.HTTPError as err:
            if err.code not in (404, 425):
                log.warning("beacon round %d: HTTP %d", round_number, err.code)
            return None
        except (OSError, ValueError, BeaconError) as err:
            log.warning("beacon round %d: %s", round_number, err)
            return None
        why = beacon_error(self.chain, beacon, round_number=round_number)
        if why:
            log.warning("beacon round %d refused: %s", round_number, why)
            return None
        return beacon


class LocalBeacon:
    """A one-key beacon chain that signs each round once it is due (tests and the demo).

    Parameters
    ----------
    signer:
        The chain's key.
    genesis_time, period:
        Round 1 is due at ``genesis_time``, one more every ``period`` seconds.
    clock:
        Unix time (tests pass their own).
    """

    def __init__(
        self,
        signer: LocalSigner,
        *,
        genesis_time: int,
        period: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer, self.clock = signer, clock
        self.chain = signer.chain(genesis_time=genesis_time, period=period)

    def latest(self) -> int:
        """The latest round due now (0 before genesis)."""
        return max(0, self.chain.first_round_after(self.clock()) - 1)

    def fetch(self, round_number: int) -> Beacon | None:
        """Round ``round_number``'s beacon once it is due, else ``None``."""
        if not 1 <= round_number <= self.latest():
            return None
        return self.signer.sign(self.chain, round_number)

    def serve(self, host: str, port: int) -> ThreadingHTTPServer:
        """Serve drand's HTTP API on ``host:port`` in a daemon thread; returns the server."""
        server = ThreadingHTTPServer((host, port), _handler(self))
        threading.Thread(target=server.serve_forever, name="beacon", daemon=True).start()
        return server


def _handler(beacon: LocalBeacon) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.strip("/").split("/")
            body: dict[str, Any] | None = None
            if parts == ["info"]:
                body = beacon.chain.to_json()
            elif len(parts) == 2 and parts[0] == "public":
                wanted = beacon.latest() if parts[1] == "latest" else _round_number(parts[1])
                found = beacon.fetch(wanted)
                body = found.to_json() if found is not None else None
            self._reply(body)

        def _reply(self, body: dict[str, Any] | None) -> None:
            data = json.dumps(body if body is not None else {"error": "not found"}).encode()
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("beacon: " + format, *args)

    return Handler


def _round_number(text: str) -> int:
    return int(text) if text.isdigit() else 0
