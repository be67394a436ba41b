"""Free TCP ports on the loopback address for one-machine federations (the demo, the
benchmarks, the tests).

A port the kernel picks with ``bind(("127.0.0.1", 0))`` comes from its ephemeral range
(``/proc/sys/net/ipv4/ip_local_port_range``, 32768-60999 by default). That range is also
where every *outgoing* connection's local port comes from, so between the moment a port is
found free and the moment a server binds it, any client on the machine (a gRPC channel, a
CrypTen party's gloo socket) may take it, and the server dies with "address already in use".
On a busy machine that is a real failure, seen in ``make test``. So ports are drawn at
random from below the ephemeral range, where the kernel never hands out a port by itself,
and each is checked by binding it once.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

HOST = "127.0.0.1"

#: The lowest port drawn: above the registered services most machines run.
LOWEST = 20000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_DEFAULT_EPHEMERAL_START = 32768
_ATTEMPTS = 200


def ephemeral_start(path: Path = _EPHEMERAL_RANGE) -> int:
    """The first port of the kernel's ephemeral range (the default where it cannot be read)."""
    try:
        first = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START
    return first


def free_loopback_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that was free a moment ago and that no outgoing connection will
    be given by the kernel in the meantime (drawn below its ephemeral range); falls back to
    a kernel-chosen port when that range leaves no room below it or every draw is taken."""
    top = ephemeral_start()
    draw = random.SystemRandom()
    if top - LOWEST >= 1000:
        for _ in range(_ATTEMPTS):
            port = draw.randrange(LOWEST, top)
            if _binds(host, port):
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _binds(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
