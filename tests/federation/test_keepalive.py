"""An idle stream between two ends with the shipped gRPC options stays open: the server
(``GRPC_OPTIONS``, as the launcher's) accepts the keepalive pings of a client that pings
at 0.6 times our clients' period (``GRPC_OPTIONS`` otherwise, as the node's).

Before the server side was set, gRPC's default (a ping without data at most every 5
minutes, two strikes) ended every stream idle for about 40 s with GOAWAY
``too_many_pings``, and the node logged "launcher unreachable (Too many pings)"; this test
then fails at about 24 s."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from mpcrec.federation.tls import GRPC_OPTIONS, KEEPALIVE_MS

CLIENT_KEEPALIVE_MS = KEEPALIVE_MS * 6 // 10  # a client pinging faster than ours: a margin
IDLE_S = 6 * CLIENT_KEEPALIVE_MS / 1000  # past the third strike on gRPC's default policy
CLIENT_OPTIONS = [
    *(o for o in GRPC_OPTIONS if o[0] != "grpc.keepalive_time_ms"),
    ("grpc.keepalive_time_ms", CLIENT_KEEPALIVE_MS),
]


@pytest.mark.timeout(120)
def test_a_stream_idle_for_six_keepalive_periods_is_not_closed_for_too_many_pings() -> None:
    release = threading.Event()

    def idle(_request: bytes, context: Any) -> Iterator[bytes]:
        release.wait(IDLE_S)  # nothing sent: only the client's keepalive pings
        yield b"still here"

    handler = grpc.method_handlers_generic_handler(
        "keepalive.Idle", {"Wait": grpc.unary_stream_rpc_method_handler(idle)}
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2), handlers=[handler], options=GRPC_OPTIONS
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=CLIENT_OPTIONS)
    try:
        call = channel.unary_stream("/keepalive.Idle/Wait")(b"", timeout=IDLE_S + 30)
        assert list(call) == [b"still here"]
    except grpc.RpcError as err:
        pytest.fail(f"the idle stream was closed: {err.code()} {err.details()}")
    finally:
        release.set()
        channel.close()
        server.stop(grace=None)
