"""The ``Catalogue`` gRPC service: thin handlers over :class:`~launch.catalogue.LauncherCatalogue`.

Registered on the launcher's server beside ``Launcher`` (same mutual TLS): the caller is
named by its certificate and must be registered. ``SubmitCatalogueExport`` takes the
caller's export (at most :data:`MAX_EXPORT` bytes; the instance in it is the caller's,
whatever the bytes say); ``FetchCatalogue`` streams every version after the one the caller
holds, each in chunks of :data:`CHUNK` bytes with its signed log entry on the last chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from launch.admission import check_caller
from launch.catalogue import LauncherCatalogue
from launch.launcher import Launcher
from mpcrec.data.catalogue_merge import decode_export
from mpcrec.errors import ProtocolError, UserError
from mpcrec.federation.tls import caller_id
from mpcrec.proto import convert
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc

CHUNK = 1 << 20
MAX_EXPORT = 512 << 20  # a million videos' metadata is some 300 MB


class CatalogueService(pb_grpc.CatalogueServicer):  # type: ignore[misc]
    """Exports in, versions out; every call by a registered instance."""

    def __init__(self, launcher: Launcher, catalogue: LauncherCatalogue) -> None:
        self.launcher = launcher
        self.catalogue = catalogue

    def _caller(self, context: grpc.ServicerContext) -> str:
        try:
            return check_caller(self.launcher, caller_id(context), registered=True)
        except ProtocolError as err:
            context.abort(convert.status_code(err), str(err))
            raise AssertionError("unreachable") from err

    def SubmitCatalogueExport(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Any:
        who = self._caller(context)
        data = bytearray()
        for chunk in request_iterator:
            data += chunk.data
            if len(data) > MAX_EXPORT:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"export above {MAX_EXPORT} bytes")
        try:
            latest = self.catalogue.submit(decode_export(bytes(data), instance=who))
        except UserError as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        return pb.CatalogueAck(latest_version=latest, detail="export kept for the next version")

    def FetchCatalogue(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._caller(context)
        for version, data, entry in self.catalogue.since(int(request.since_version)):
            for start in range(0, max(len(data), 1), CHUNK):
                last = start + CHUNK >= len(data)
                yield pb.CatalogueChunk(
                    version=version, data=data[start : start + CHUNK], entry=entry if last else b""
                )


def add_to_server(server: grpc.Server, launcher: Launcher) -> None:
    """Serve the launcher's catalogue on ``server`` (nothing without one)."""
    catalogue = getattr(launcher, "catalogue", None)
    if catalogue is not None:
        pb_grpc.add_CatalogueServicer_to_server(CatalogueService(launcher, catalogue), server)
