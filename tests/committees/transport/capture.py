"""A packet capture of loopback TCP traffic (AF_PACKET, needs CAP_NET_RAW), for the leak test."""

from __future__ import annotations

import socket
import struct
import threading
from types import TracebackType

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33


def can_capture() -> bool:
    """Whether this process may open a raw packet socket on ``lo``."""
    try:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)) as sock:
            sock.bind(("lo", 0))
    except (OSError, AttributeError):
        return False
    return True


class LoopbackCapture:
    """Record the payload of every TCP segment on ``lo``, per flow, while the block runs."""

    def __init__(self) -> None:
        self.flows: dict[tuple[int, int], bytearray] = {}
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 27)
        self._sock.bind(("lo", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LoopbackCapture:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def stream(self, ports: set[int] | None = None) -> bytes:
        """Every flow's bytes (only flows from or to ``ports`` if given), joined by a marker."""
        return b"\x00|flow|\x00\x00\x00".join(
            bytes(b)
            for (sport, dport), b in self.flows.items()
            if ports is None or sport in ports or dport in ports
        )

    def total_bytes(self) -> int:
        """How many TCP payload bytes were recorded."""
        return sum(len(b) for b in self.flows.values())

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame, addr = self._sock.recvfrom(1 << 17)
            except TimeoutError:
                continue
            except OSError:
                return
            if addr[2] == PACKET_OUTGOING:  # each loopback packet is seen twice
                continue
            self._record(frame)

    def _record(self, frame: bytes) -> None:
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":  # Ethernet + IPv4 only
            return
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        if ip[9] != socket.IPPROTO_TCP:
            return
        tcp = ip[ihl:total]
        sport, dport = struct.unpack("!HH", tcp[:4])
        offset = (tcp[12] >> 4) * 4
        payload = tcp[offset:]
        if payload:
            self.flows.setdefault((sport, dport), bytearray()).extend(payload)


def windows_found(share: bytes, stream: bytes, *, width: int = 8, sample: int | None = None) -> int:
    """How many 8-byte-aligned ``width``-byte windows of ``share`` occur in ``stream``.

    Every window by default; with ``sample``, that many windows spread evenly over the share
    (a capture of a busy shared loopback can hold hundreds of MB).
    """
    starts = range(0, len(share) - width + 1, 8)
    if sample is not None:
        starts = starts[:: max(1, len(starts) // sample)]
    return sum(1 for start in starts if share[start : start + width] in stream)
