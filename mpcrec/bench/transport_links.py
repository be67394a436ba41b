"""One link, two processes: raw TLS 1.3 frames (what the committee uses) against a gRPC stream.

Why the committee's data plane is plain TLS sockets and not gRPC bidirectional streams:
both use the same certificates and mutual TLS, so the choice is about cost. Measured here:

- *latency*: ``pings`` round trips of an 8-byte message (CrypTen's comparisons are many
  small rounds);
- *throughput*: ``messages`` one-way messages of ``megabytes`` MB each (a share of 1,000,000
  values is 8 MB), timed until the receiver has them all.

gRPC runs with the same P-256 certificates over its own BoringSSL (HTTP/2, protobuf-free
raw bytes via generic handlers, message size limits lifted).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

_CTX = mp.get_context("spawn")
_SERVICE = "/mpcrec.bench.Link/"


def measure_links(
    *, pings: int = 300, messages: int = 10, megabytes: int = 8
) -> dict[str, dict[str, float]]:
    """Return ``{"tls": {...}, "grpc": {...}}`` with latency (µs) and throughput (MB/s)."""
    from committees.transport.settings import local_committee_transports

    with tempfile.TemporaryDirectory(prefix="mpcrec-links-") as tmp:
        transports = local_committee_transports(Path(tmp), 2, session="links")
        out: dict[str, dict[str, float]] = {}
        for kind in ("tls", "grpc"):
            peer = _CTX.Process(target=_peer, args=(kind, transports[1], messages))
            peer.start()
            try:
                out[kind] = _drive(kind, transports[0], pings, messages, megabytes << 20)
            finally:
                peer.join(timeout=30)
                if peer.is_alive():
                    peer.kill()
        return out


def _drive(kind: str, transport: Any, pings: int, messages: int, size: int) -> dict[str, float]:
    payload = bytes(size)
    if kind == "tls":
        from committees.transport.frames import KIND_BYTES
        from committees.transport.mesh import connect_mesh

        mesh = connect_mesh(transport)
        out, inc = mesh.outgoing[1], mesh.incoming[1]
        rtts = []
        for _ in range(pings):
            start = time.perf_counter()
            out.send(KIND_BYTES, b"12345678")
            inc.receive(KIND_BYTES)
            rtts.append(time.perf_counter() - start)
        start, cpu = time.perf_counter(), _cpu_seconds()
        for _ in range(messages):
            out.send(KIND_BYTES, payload)
        sender_cpu = _cpu_seconds() - cpu
        # the peer acknowledges once it has read them all, with the CPU time that took
        receiver_cpu = float(inc.receive(KIND_BYTES).tobytes())
        seconds = time.perf_counter() - start
        mesh.close()
    else:
        channel = _grpc_channel(transport)
        ping = channel.stream_stream(_SERVICE + "Ping")
        bulk = channel.stream_unary(_SERVICE + "Bulk")
        rtts = []
        requests: Any = _Feed()
        replies = ping(iter(requests))
        for _ in range(pings):
            start = time.perf_counter()
            requests.put(b"12345678")
            next(replies)
            rtts.append(time.perf_counter() - start)
        requests.put(None)
        start, cpu = time.perf_counter(), _cpu_seconds()
        receiver_cpu = float(bulk(iter([payload] * messages), timeout=120))
        sender_cpu = _cpu_seconds() - cpu
        seconds = time.perf_counter() - start
        channel.close()
    gigabytes = messages * size / 1e9
    return {
        "rtt_us_median": statistics.median(rtts) * 1e6,
        "throughput_mb_s": messages * size / seconds / 1e6,
        "sender_cpu_s_per_gb": sender_cpu / gigabytes,
        "receiver_cpu_s_per_gb": receiver_cpu / gigabytes,
    }


def _cpu_seconds() -> float:
    """CPU time of this process, every thread included (gRPC's C threads too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peer(kind: str, transport: Any, messages: int) -> None:
    if kind == "tls":
        from committees.transport.frames import KIND_BYTES
        from committees.transport.mesh import connect_mesh

        mesh = connect_mesh(transport)
        out, inc = mesh.outgoing[0], mesh.incoming[0]
        try:
            while True:
                frame = inc.receive(KIND_BYTES)
                if len(frame) > 8:
                    break
                out.send(KIND_BYTES, frame.tobytes())
            cpu = _cpu_seconds()  # from the end of the first bulk message: slightly under
            for _ in range(messages - 1):
                inc.receive(KIND_BYTES)
            used = (_cpu_seconds() - cpu) * messages / (messages - 1)
            out.send(KIND_BYTES, repr(used).encode())
        finally:
            mesh.close()
        return
    server = _grpc_server(transport)
    server.wait_for_termination(timeout=120)


class _Feed:
    """A blocking request iterator for a gRPC stream."""

    def __init__(self) -> None:
        import queue

        self._items: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def put(self, item: bytes | None) -> None:
        self._items.put(item)

    def __iter__(self) -> Iterator[bytes]:
        while (item := self._items.get()) is not None:
            yield item


_OPTIONS = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]


def _grpc_channel(transport: Any) -> Any:
    import grpc

    creds = grpc.ssl_channel_credentials(
        root_certificates=transport.certs.ca.read_bytes(),
        private_key=transport.certs.key.read_bytes(),
        certificate_chain=transport.certs.cert.read_bytes(),
    )
    peer = transport.peers[1]
    channel = grpc.secure_channel(f"{peer.host}:{peer.port}", creds, options=_OPTIONS)
    grpc.channel_ready_future(channel).result(timeout=60)
    return channel


def _grpc_server(transport: Any) -> Any:
    import grpc

    done = []

    def ping(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
        yield from requests

    def bulk(requests: Iterator[bytes], context: Any) -> bytes:
        cpu = _cpu_seconds()
        count = sum(1 for _ in requests)
        done.append(count)
        server.stop(grace=1)
        return repr(_cpu_seconds() - cpu).encode()

    handler = grpc.method_handlers_generic_handler(
        "mpcrec.bench.Link",
        {
            "Ping": grpc.stream_stream_rpc_method_handler(ping),
            "Bulk": grpc.stream_unary_rpc_method_handler(bulk),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=_OPTIONS)
    server.add_generic_rpc_handlers([handler])
    creds = grpc.ssl_server_credentials(
        [(transport.certs.key.read_bytes(), transport.certs.cert.read_bytes())],
        root_certificates=transport.certs.ca.read_bytes(),
        require_client_auth=True,
    )
    server.add_secure_port(f"{transport.me.host}:{transport.me.port}", creds)
    server.start()
    return server
