"""Frames on a TLS socket: a 9-byte header (kind, payload length), then the payload.

Tensors travel as their raw bytes in one frame; objects (the hello, pickled CrypTen
objects) as one ``KIND_OBJECT`` frame.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from typing import Final

import numpy as np
import numpy.typing as npt

HEADER: Final = struct.Struct("!BQ")
#: Payloads up to this size are written in one call with their header, on the caller's thread.
SMALL: Final = 1 << 16

KIND_BYTES: Final = 1
KIND_OBJECT: Final = 2

#: A received frame's bytes, writable, so a tensor can use them without a copy.
Payload = npt.NDArray[np.uint8]
EMPTY: Final[Payload] = np.empty(0, dtype=np.uint8)


def read_exactly(sock: socket.socket, view: memoryview) -> bool:
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


def close_socket(sock: socket.socket) -> None:
    """Shut ``sock`` down both ways and close it (a blocked read or write fails at once)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def socket_address(sock: socket.socket) -> str:
    """``host:port`` of the other end of ``sock``, or ``?``."""
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return "?"
    return f"{host}:{port}"
