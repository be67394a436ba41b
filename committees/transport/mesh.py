"""The committee's mesh of mutually authenticated TLS 1.3 links, and framed messages on them.

Every ordered pair of ranks ``(a, b)`` gets its own TLS connection, dialled by ``a`` to ``b``'s
listener and used in one direction only: ``a`` writes frames, ``b`` reads them. One
direction per connection means reads and writes never share a TLS object (OpenSSL does not
allow concurrent reads and writes on one ``SSL``). ``b`` reads on the thread that needs the
frame, straight into its destination (no reader thread, no queue: a thread per link that
needs the GIL for every 16 KB record starves while the party computes). ``a`` hands large
frames to a sending thread of the link (:meth:`OutgoingLink.post`), so two parties sending
each other large tensors at once both go on to read and never deadlock.

Set-up, for each link, with a deadline for the whole mesh:

1. TLS 1.3 handshake; both sides present their instance certificate, both verify the chain
   to the committee's CA (expired or foreign certificates fail here);
2. the dialler checks that the listener's certificate names the instance the assignment
   gives for that rank (and its pinned fingerprint, if any);
3. the dialler sends ``hello = {session, rank}``; the listener checks that the dialler's
   certificate names the instance of the rank it claims, that the session matches and that
   the rank is not connected yet, and answers ``ok`` or the reason it refuses.

A refused connection does not end the set-up on the listening side (a stranger cannot block
a committee by knocking); a peer that has not connected by the deadline does, with the
reasons of every refusal in the error.

A frame is a 9-byte header (kind, payload length) followed by the payload. Tensors travel
as their raw bytes in one frame.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from committees.transport.settings import PeerAddress, TlsTransport
from mpcrec.crypto.pki import fingerprint, instance_id_of, instance_id_of_der
from mpcrec.errors import ConfigError, RoundAborted

_HEADER: Final = struct.Struct("!BQ")
_SMALL: Final = 1 << 16  # payloads up to this size are sent in one write with their header
_MAX_HELLO: Final = 4096
_HANDSHAKE_S: Final = 5.0  # one incoming handshake may take at most this long

KIND_BYTES: Final = 1
KIND_OBJECT: Final = 2


#: A received frame's bytes, writable, so a tensor can use them without a copy.
Payload = npt.NDArray[np.uint8]
_EMPTY: Final[Payload] = np.empty(0, dtype=np.uint8)


class TransportError(RoundAborted, RuntimeError):
    """The committee's data plane failed: the round aborts, nothing is revealed.

    A :class:`RuntimeError` too, as torch.distributed's errors are, so code that handles a
    gloo failure (CrypTen's TTP server loop among it) handles this one the same way.
    """


class PeerRefused(TransportError):
    """A peer presented the wrong certificate, or refused ours."""


class PeerTimeout(TransportError):
    """A peer did not connect, or sent nothing, within its deadline."""


class PeerLost(TransportError):
    """A peer's connection dropped mid-round."""


class SendRequest:
    """A frame handed to a link's sending thread; :meth:`wait` returns once it is written."""

    def __init__(self, link: OutgoingLink, kind: int, payload: bytes | memoryview) -> None:
        self.link = link
        self.kind = kind
        self.payload = payload
        self._done = threading.Event()
        self._error: TransportError | None = None

    def finish(self, error: TransportError | None) -> None:
        """Record the outcome (called by the sending thread)."""
        self._error = error
        self._done.set()

    def is_completed(self) -> bool:
        """Whether the frame has been written (or failed)."""
        return self._done.is_set()

    def wait(self) -> None:
        """Block until the frame is written; raise its :class:`TransportError` if it failed."""
        self._done.wait()
        if self._error is not None:
            raise self._error


class OutgoingLink:
    """The sending end of one link: frames are written in the order they are handed over.

    :meth:`send` writes on the caller's thread. :meth:`post` hands a large frame to the
    link's own sending thread (started on first use) and returns at once, so a party can
    go on to read what its peers send it while its own large frames are on their way: two
    parties sending each other large tensors never wait for each other. Small frames, and
    any frame when nothing is queued, are written at once by :meth:`send`.
    """

    def __init__(self, peer: PeerAddress, sock: ssl.SSLSocket) -> None:
        self.peer = peer
        self._sock = sock
        self._lock = threading.Lock()  # one writer of the TLS object at a time
        self._queue: queue.SimpleQueue[SendRequest | None] = queue.SimpleQueue()
        self._pending = 0  # frames posted and not yet written; guarded by _lock
        self._thread: threading.Thread | None = None
        self._closed = False

    def send(self, kind: int, payload: bytes | bytearray | memoryview) -> None:
        """Write one frame; raise :class:`PeerLost` or :class:`PeerTimeout` on failure."""
        with self._lock:
            if not self._pending:
                self._write(kind, payload)
                return
        self.post(kind, memoryview(payload)).wait()  # behind the frames already posted

    def post(self, kind: int, payload: bytes | memoryview) -> SendRequest:
        """Queue one frame for the sending thread; ``payload`` must not change until written.

        Small frames are written at once when nothing is queued (no thread hop).
        """
        request = SendRequest(self, kind, payload)
        with self._lock:
            if not self._pending and len(payload) <= _SMALL:
                try:
                    self._write(kind, payload)
                except TransportError as err:
                    request.finish(err)
                else:
                    request.finish(None)
                return request
            if self._closed:
                request.finish(PeerLost(f"connection to {_name(self.peer)} is closed"))
                return request
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._send_loop, name=f"tls-send-{self.peer.rank}", daemon=True
                )
                self._thread.start()
        self._queue.put(request)
        return request

    def close(self) -> None:
        """Close the connection and let the sending thread end (idempotent)."""
        _close(self._sock)  # first: a write in progress fails at once and frees the lock
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)

    def _send_loop(self) -> None:
        while (request := self._queue.get()) is not None:
            error: TransportError | None = None
            with self._lock:
                try:
                    self._write(request.kind, request.payload)
                except TransportError as err:
                    error = err
                finally:
                    self._pending -= 1
            request.finish(error)

    def _write(self, kind: int, payload: bytes | bytearray | memoryview) -> None:
        """Write a frame (the caller holds ``_lock``)."""
        header = _HEADER.pack(kind, len(payload))
        try:
            if len(payload) <= _SMALL:
                self._sock.sendall(header + bytes(payload))
            else:
                self._sock.sendall(header)
                self._sock.sendall(payload)
        except TimeoutError as err:
            raise PeerTimeout(f"{_name(self.peer)} stopped reading: send timed out") from err
        except (OSError, ValueError) as err:
            raise PeerLost(f"connection to {_name(self.peer)} lost while sending: {err}") from err


class IncomingLink:
    """The receiving end of one link, read on the caller's thread.

    No thread of its own: the party reads a frame when it needs it, straight into the
    buffer it is meant for (no hand-over between threads, no queue, no copy). The socket
    timeout bounds how long the peer may stay silent.
    """

    def __init__(self, peer: PeerAddress, sock: ssl.SSLSocket, timeout_s: float) -> None:
        self.peer = peer
        self._sock = sock
        self._timeout_s = timeout_s
        self._failure: TransportError | None = None
        self._closing = False
        sock.settimeout(timeout_s)

    @property
    def timeout_s(self) -> float:
        """How long a receive waits for the peer to send anything."""
        return self._timeout_s

    @timeout_s.setter
    def timeout_s(self, value: float) -> None:
        self._timeout_s = value
        with contextlib.suppress(OSError):
            self._sock.settimeout(value)

    def receive(self, kind: int, into: memoryview | None = None) -> Payload:
        """Read the next frame, which must be of ``kind``, and return its payload.

        Parameters
        ----------
        kind:
            The frame kind expected.
        into:
            A writable byte buffer the payload must fill exactly; it is read straight into
            it (and the returned array is empty). Without it a new array is returned.

        Raises
        ------
        PeerLost
            The connection dropped or closed.
        PeerTimeout
            Nothing arrived within the receive timeout.
        TransportError
            The frame is of another kind or size: the parties are out of step.
        """
        if self._failure is not None:
            raise self._failure
        try:
            return self._read_frame(kind, into)
        except TimeoutError:
            self._failure = PeerTimeout(
                f"no message from {_name(self.peer)} within {self._timeout_s:g} s"
            )
        except (OSError, ValueError) as err:
            reason = "closed locally" if self._closing else str(err) or type(err).__name__
            self._failure = PeerLost(f"connection from {_name(self.peer)} lost: {reason}")
            self._failure.__cause__ = err
        raise self._failure

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._closing = True
        _close(self._sock)

    def _read_frame(self, kind: int, into: memoryview | None) -> Payload:
        header = bytearray(_HEADER.size)
        if not _read_exactly(self._sock, memoryview(header)):
            raise ConnectionError("peer closed the connection")
        got_kind, size = _HEADER.unpack(header)
        if got_kind != kind:
            self._failure = TransportError(
                f"{_name(self.peer)} sent a frame of kind {got_kind}, expected {kind}: "
                "the parties are out of step"
            )
            raise self._failure
        if into is not None:
            if size != into.nbytes:
                self._failure = TransportError(
                    f"{_name(self.peer)} sent {size} bytes where {into.nbytes} were expected: "
                    "the parties are out of step"
                )
                raise self._failure
            payload = _EMPTY
            target = into
        else:
            payload = np.empty(size, dtype=np.uint8)  # not zero-filled: read over at once
            target = payload.data.cast("B")
        if size and not _read_exactly(self._sock, target):
            raise ConnectionError("peer closed the connection mid-message")
        return payload


@dataclass
class Mesh:
    """All of a party's links: one outgoing and one incoming per other rank."""

    outgoing: dict[int, OutgoingLink]
    incoming: dict[int, IncomingLink]

    def close(self) -> None:
        """Close every link."""
        for link in self.outgoing.values():
            link.close()
        for incoming in self.incoming.values():
            incoming.close()


def connect_mesh(transport: TlsTransport) -> Mesh:
    """Connect this party to every other rank of ``transport``'s assignment.

    Returns
    -------
    Mesh
        Once every link is up and every peer authenticated.

    Raises
    ------
    ConfigError
        This party's own certificate does not name the instance its rank is assigned to.
    PeerRefused, PeerTimeout
        A peer presented the wrong certificate, refused ours, or never connected in time.
    """
    _check_own_certificate(transport)
    deadline = time.monotonic() + transport.connect_timeout_s
    listener = _listen(transport)
    acceptor = _Acceptor(transport, listener, deadline)
    acceptor.start()
    outgoing: dict[int, OutgoingLink] = {}
    try:
        for peer in transport.peers:
            if peer.rank != transport.rank:
                outgoing[peer.rank] = _dial(transport, peer, deadline)
        incoming = acceptor.result()
    except BaseException:
        acceptor.stop()
        for link in outgoing.values():
            link.close()
        raise
    finally:
        _close(listener)
    return Mesh(outgoing=outgoing, incoming=incoming)


def server_context(transport: TlsTransport) -> ssl.SSLContext:
    """TLS 1.3 context for accepting peers: client certificate required, our CA only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _configure(ctx, transport)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.num_tickets = 0  # no session tickets: the listener never writes after set-up
    return ctx


def client_context(transport: TlsTransport) -> ssl.SSLContext:
    """TLS 1.3 context for dialling peers; identity is checked against the assignment."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _configure(ctx, transport)
    ctx.check_hostname = False  # peers are pinned by instance id (and fingerprint) instead
    return ctx


def _configure(ctx: ssl.SSLContext, transport: TlsTransport) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        ctx.load_cert_chain(transport.certs.cert, transport.certs.key)
        ctx.load_verify_locations(transport.certs.ca)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(
            f"cannot load TLS certificate {transport.certs.cert}, key {transport.certs.key} "
            f"or CA {transport.certs.ca}: {err}",
            hint="create them with `mpcrec pki` or point the config at your own files",
        ) from err


def _check_own_certificate(transport: TlsTransport) -> None:
    try:
        pem = transport.certs.cert.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read certificate {transport.certs.cert}: {err}") from err
    own = instance_id_of(pem)
    if own != transport.me.instance_id:
        raise ConfigError(
            f"certificate {transport.certs.cert} names instance {own!r}, but rank "
            f"{transport.rank} is assigned to {transport.me.instance_id!r}",
            hint="start the party with the certificate the instance registered with",
        )


def _listen(transport: TlsTransport) -> socket.socket:
    host = transport.listen_host or transport.me.host
    try:
        listener = socket.create_server((host, transport.me.port), reuse_port=False)
    except OSError as err:
        raise ConfigError(
            f"rank {transport.rank} cannot listen on {host}:{transport.me.port}: {err}"
        ) from err
    listener.settimeout(0.2)
    return listener


def _dial(transport: TlsTransport, peer: PeerAddress, deadline: float) -> OutgoingLink:
    """Connect to ``peer``, authenticate it, introduce ourselves; retry until the deadline."""
    ctx = client_context(transport)
    last: str = "no attempt"
    while time.monotonic() < deadline:
        try:
            raw = socket.create_connection(
                (peer.host, peer.port), timeout=max(0.1, min(2.0, deadline - time.monotonic()))
            )
        except OSError as err:  # not listening yet: retry
            last = str(err)
            time.sleep(0.05)
            continue
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            sock = ctx.wrap_socket(raw)
        except ssl.SSLError as err:
            _close(raw)
            raise PeerRefused(f"TLS handshake with {_name(peer)} failed: {err}") from err
        except OSError as err:
            _close(raw)
            last = str(err)
            continue
        try:
            _check_peer(sock, peer)
            _send_hello(sock, transport, peer)
        except BaseException:
            _close(sock)
            raise
        sock.settimeout(transport.recv_timeout_s)
        return OutgoingLink(peer, sock)
    raise PeerTimeout(
        f"{_name(peer)} at {peer.host}:{peer.port} did not accept a connection within "
        f"{transport.connect_timeout_s:g} s (last error: {last})"
    )


def _send_hello(sock: ssl.SSLSocket, transport: TlsTransport, peer: PeerAddress) -> None:
    hello = json.dumps({"session": transport.session, "rank": transport.rank}).encode()
    try:
        sock.sendall(_HEADER.pack(KIND_OBJECT, len(hello)) + hello)
        header = bytearray(_HEADER.size)
        if not _read_exactly(sock, memoryview(header)):
            raise ConnectionError("closed before answering")
        _, size = _HEADER.unpack(header)
        answer = bytearray(min(size, _MAX_HELLO))
        if not _read_exactly(sock, memoryview(answer)):
            raise ConnectionError("closed before answering")
    except (OSError, ssl.SSLError) as err:
        raise PeerRefused(f"{_name(peer)} refused our certificate or hello: {err}") from err
    if bytes(answer) != b"ok":
        raise PeerRefused(f"{_name(peer)} refused us: {answer.decode(errors='replace')}")


def _check_peer(sock: ssl.SSLSocket, peer: PeerAddress) -> None:
    """Raise :class:`PeerRefused` unless ``sock``'s certificate is ``peer``'s."""
    der = sock.getpeercert(binary_form=True)
    if der is None:
        raise PeerRefused(f"{_name(peer)} presented no certificate")
    reason = _identity_mismatch(der, peer)
    if reason:
        raise PeerRefused(reason)


def _identity_mismatch(der: bytes, peer: PeerAddress) -> str | None:
    try:
        got = instance_id_of_der(der)
    except Exception as err:
        return f"{_name(peer)}: certificate names no instance ({err})"
    if got != peer.instance_id:
        return (
            f"rank {peer.rank} presented a certificate of instance {got!r}, but the committee "
            f"assignment names {peer.instance_id!r}"
        )
    if peer.fingerprint and fingerprint(der) != peer.fingerprint.lower():
        return f"{_name(peer)} presented a certificate other than the one it registered"
    return None


class _Acceptor:
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
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for link in self._links.values():
            link.close()

    def result(self) -> dict[int, IncomingLink]:
        self._thread.join(timeout=max(0.0, self._deadline - time.monotonic()) + 1.0)
        if self._error is not None:
            raise self._error
        missing = [p for p in self._transport.peers if p.rank != self._transport.rank]
        missing = [p for p in missing if p.rank not in self._links]
        if missing:
            names = ", ".join(_name(p) for p in missing)
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
        raw.settimeout(max(0.1, min(_HANDSHAKE_S, self._deadline - time.monotonic())))
        try:
            sock = self._ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as err:
            self._refusals.append(f"TLS handshake from {_addr(raw)} failed: {err}")
            _close(raw)
            return
        try:
            rank, refusal = self._read_hello(sock)
        except (OSError, ValueError) as err:
            self._refusals.append(f"no valid hello from {_addr(sock)}: {err}")
            _close(sock)
            return
        try:
            answer = b"ok" if refusal is None else refusal.encode()
            sock.sendall(_HEADER.pack(KIND_OBJECT, len(answer)) + answer)
        except OSError:
            refusal = refusal or "dialler left before the answer"
        if refusal is not None:
            self._refusals.append(refusal)
            _close(sock)
            return
        self._links[rank] = IncomingLink(
            self._transport.peers[rank], sock, self._transport.recv_timeout_s
        )

    def _read_hello(self, sock: ssl.SSLSocket) -> tuple[int, str | None]:
        header = bytearray(_HEADER.size)
        if not _read_exactly(sock, memoryview(header)):
            raise ConnectionError("closed before hello")
        kind, size = _HEADER.unpack(header)
        if kind != KIND_OBJECT or size > _MAX_HELLO:
            raise ValueError(f"malformed hello (kind {kind}, {size} bytes)")
        body = bytearray(size)
        if not _read_exactly(sock, memoryview(body)):
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
        return rank, _identity_mismatch(der, self._transport.peers[rank])


def _read_exactly(sock: socket.socket, view: memoryview) -> bool:
    """Fill ``view`` from ``sock``; False if the peer closed before the first byte."""
    got, size = 0, len(view)
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            if got == 0:
                return False
            raise ConnectionError("peer closed the connection mid-frame")
        got += n
    return True


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _addr(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return "?"
    return f"{host}:{port}"


def _name(peer: PeerAddress) -> str:
    return f"rank {peer.rank} ({peer.instance_id})"
