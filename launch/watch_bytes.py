"""The Launcher service's handlers as registered on the server, with ``WatchRounds`` sending
pre-serialised bytes: the round feed (:mod:`launch.round_feed`) renders each announcement
once, and every watcher's stream is written those same bytes (a thousand watchers, one
serialisation, not a thousand)."""

from __future__ import annotations

from typing import Any

import grpc

from mpcrec.proto import federation_pb2_grpc as pb_grpc


class _Handlers:
    """What a generated ``add_*Servicer_to_server`` registers, kept to change before serving."""

    def __init__(self) -> None:
        self.service = ""
        self.methods: dict[str, Any] = {}

    def add_generic_rpc_handlers(self, _handlers: Any) -> None:
        """The same methods as :meth:`add_registered_method_handlers`: nothing to keep."""

    def add_registered_method_handlers(self, service: str, methods: dict[str, Any]) -> None:
        self.service, self.methods = service, dict(methods)


def _as_is(message: bytes) -> bytes:
    return message


def add_launcher(server: Any, service: Any) -> None:
    """The Launcher service's generated handlers, except that ``WatchRounds`` writes the
    round feed's pre-serialised announcements as they are: one announcement is serialised
    once per change, not once per watcher (a thousand watchers, a thousand copies)."""
    found = _Handlers()
    pb_grpc.add_LauncherServicer_to_server(service, found)
    watch = found.methods["WatchRounds"]
    found.methods["WatchRounds"] = watch._replace(response_serializer=_as_is)
    generic = grpc.method_handlers_generic_handler(found.service, found.methods)
    server.add_generic_rpc_handlers((generic,))
    server.add_registered_method_handlers(found.service, found.methods)
