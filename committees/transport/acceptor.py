"""The listening side of the mesh: admitting the peers the assignment names, and no one else.

A refused connection does not end the set-up (a stranger cannot block a committee by
knocking); a peer that has not connected by the deadline does, with the reasons of every
refusal in the error.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from typing import Final

from committees.transport.errors import PeerTimeout, TransportError, peer_name
from committees.transport.frames import (
    HEADER,
    KIND_OBJECT,
    close_socket,
    read_exactly,
    socket_address,
)
from committees.transport.handshake import MAX_HELLO, identity_mismatch, server_context
from committees.transport.links import IncomingLink
from committees.transport.settings import TlsTransport
from mpcrec.errors import ConfigError

#: One incoming handshake (TLS and hello) may take at most this long.
HANDSHAKE_S: Final = 5.0


def listen(transport: TlsTransport) -> socket.socket:
    """Listen on this party's address (or ``listen_host``); ConfigError if it cannot."""
    host = transport.listen_host or transport.me.host
    try:
        listener = socket.create_server((host, transport.me.port), reuse_port=False)
    except OSError as err:
        raise ConfigError(
            f"rank {transport.rank} cannot listen on {host}:{transport.me.port}: {err}"
        ) from err
    listener.settimeout(0.2)
    return listener


class Acceptor:
    """Accepts incoming links in a thread until every other rank is connected or time is up."""

    def __init__(self, transport: TlsTransport, listener: socket.socket, deadline: float):
        self._transport = transport
        self._listener = listener
        self._deadline = deadline
        self._ctx = server_context(transport)
        self._links: dict[int, IncomingLink] = {}
        self._refusals: list[str] = []
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tls-accept", daemon=True)

    def start(self) -> None:
        """Start accepting in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and close the links admitted so far."""
        self._stop.set()
        self._thread.join(timeout=5)
        for link in self._links.values():
            link.close()

    def result(self) -> dict[int, IncomingLink]:
        """Every other rank's incoming link, by rank, once all are admitted.

        Raises
        ------
        PeerTimeout
            Some rank did not connect by the deadline (every refusal seen is in the message).
        TransportError
            The listener failed.
        """
        self._thread.join(timeout=max(0.0, self._deadline - time.monotonic()) + 1.0)
        if self._error is not None:
            raise self._error
        missing = [p for p in self._transport.peers if p.rank != self._transport.rank]
        missing = [p for p in missing if p.rank not in self._links]
        if missing:
            names = ", ".join(peer_name(p) for p in missing)
            refused = "; ".join(self._refusals) or "none"
            raise PeerTimeout(
                f"{names} did not connect within {self._transport.connect_timeout_s:g} s "
                f"(refused connections: {refused})"
            )
        return self._links

    def _run(self) -> None:
        expected = len(self._transport.peers) - 1
        while len(self._links) < expected and not self._stop.is_set():
            if time.monotonic() >= self._deadline:
                return
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as err:
                self._error = TransportError(f"listener failed: {err}")
                return
            self._admit(raw)

    def _admit(self, raw: socket.socket) -> None:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(max(0.1, min(HANDSHAKE_S, self._deadline - time.monotonic())))
        try:
            sock = self._ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as err:
            self._refusals.append(f"TLS handshake from {socket_address(raw)} failed: {err}")
            close_socket(raw)
            return
        try:
            rank, refusal = self._read_hello(sock)
        except (OSError, ValueError) as err:
            self._refusals.append(f"no valid hello from {socket_address(sock)}: {err}")
            close_socket(sock)
            return
        try:
            answer = b"ok" if refusal is None else refusal.encode()
            sock.sendall(HEADER.pack(KIND_OBJECT, len(answer)) + answer)
        except OSError:
            refusal = refusal or "dialler left before the answer"
        if refusal is not None:
            self._refusals.append(refusal)
            close_socket(sock)
            return
        self._links[rank] = IncomingLink(
            self._transport.peers[rank], sock, self._transport.recv_timeout_s
        )

    def _read_hello(self, sock: ssl.SSLSocket) -> tuple[int, str | None]:
        header = bytearray(HEADER.size)
        if not read_exactly(sock, memoryview(header)):
            raise ConnectionError("closed before hello")
        kind, size = HEADER.unpack(header)
        if kind != KIND_OBJECT or size > MAX_HELLO:
            raise ValueError(f"malformed hello (kind {kind}, {size} bytes)")
        body = bytearray(size)
        if not read_exactly(sock, memoryview(body)):
            raise ConnectionError("closed during hello")
        hello = json.loads(body)
        rank = int(hello["rank"])
        if hello.get("session") != self._transport.session:
            return rank, f"session {hello.get('session')!r} is not {self._transport.session!r}"
        if not 0 <= rank < len(self._transport.peers) or rank == self._transport.rank:
            return rank, f"rank {rank} is not a peer of rank {self._transport.rank}"
        if rank in self._links:
            return rank, f"rank {rank} is already connected"
        der = sock.getpeercert(binary_form=True)
        if der is None:
            return rank, f"rank {rank} presented no certificate"
        return rank, identity_mismatch(der, self._transport.peers[rank])
