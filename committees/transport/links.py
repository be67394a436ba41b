"""The two ends of one link of the mesh: written by one party, read by the other.

:class:`OutgoingLink` writes frames in the order they are handed over, on the caller's thread
(:meth:`OutgoingLink.send`) or on the link's own sending thread (:meth:`OutgoingLink.post`),
which spends its time in ``SSL_write`` without the GIL. :class:`IncomingLink` has no thread:
the party reads a frame on the thread that needs it, straight into its destination.
"""

from __future__ import annotations

import contextlib
import queue
import ssl
import threading

import numpy as np

from committees.transport.errors import PeerLost, PeerTimeout, TransportError, peer_name
from committees.transport.frames import EMPTY, HEADER, SMALL, Payload, close_socket, read_exactly
from committees.transport.settings import PeerAddress


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
            if not self._pending and len(payload) <= SMALL:
                try:
                    self._write(kind, payload)
                except TransportError as err:
                    request.finish(err)
                else:
                    request.finish(None)
                return request
            if self._closed:
                request.finish(PeerLost(f"connection to {peer_name(self.peer)} is closed"))
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
        close_socket(self._sock)  # first: a write in progress fails at once and frees the lock
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
        header = HEADER.pack(kind, len(payload))
        try:
            if len(payload) <= SMALL:
                self._sock.sendall(header + bytes(payload))
            else:
                self._sock.sendall(header)
                self._sock.sendall(payload)
        except TimeoutError as err:
            raise PeerTimeout(f"{peer_name(self.peer)} stopped reading: send timed out") from err
        except (OSError, ValueError) as err:
            raise PeerLost(
                f"connection to {peer_name(self.peer)} lost while sending: {err}"
            ) from err


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
                f"no message from {peer_name(self.peer)} within {self._timeout_s:g} s"
            )
        except (OSError, ValueError) as err:
            reason = "closed locally" if self._closing else str(err) or type(err).__name__
            self._failure = PeerLost(f"connection from {peer_name(self.peer)} lost: {reason}")
            self._failure.__cause__ = err
        raise self._failure

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._closing = True
        close_socket(self._sock)

    def _read_frame(self, kind: int, into: memoryview | None) -> Payload:
        header = bytearray(HEADER.size)
        if not read_exactly(self._sock, memoryview(header)):
            raise ConnectionError("peer closed the connection")
        got_kind, size = HEADER.unpack(header)
        if got_kind != kind:
            self._failure = TransportError(
                f"{peer_name(self.peer)} sent a frame of kind {got_kind}, expected {kind}: "
                "the parties are out of step"
            )
            raise self._failure
        if into is not None:
            if size != into.nbytes:
                self._failure = TransportError(
                    f"{peer_name(self.peer)} sent {size} bytes where {into.nbytes} were expected: "
                    "the parties are out of step"
                )
                raise self._failure
            payload = EMPTY
            target = into
        else:
            payload = np.empty(size, dtype=np.uint8)  # not zero-filled: read over at once
            target = payload.data.cast("B")
        if size and not read_exactly(self._sock, target):
            raise ConnectionError("peer closed the connection mid-message")
        return payload
