"""The node's client of the launcher's ``Catalogue`` service (gRPC, mutual TLS).

:meth:`GrpcCatalogueClient.fetch` reassembles each version's chunks into its file bytes and
signed entry (:class:`~mpcrec.node.catalogue_sync.CatalogueSource`);
:meth:`GrpcCatalogueClient.submit` sends this instance's export.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from mpcrec.crypto.pki import CertPaths
from mpcrec.federation.tls import secure_channel
from mpcrec.proto import convert
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc

CHUNK = 1 << 20
FETCH_TIMEOUT_S = 300.0  # a first fetch of a million rows is some 300 MB


class GrpcCatalogueClient:
    """The ``Catalogue`` service at ``address``, as this instance (``tls``)."""

    def __init__(self, address: str, tls: CertPaths) -> None:
        self._channel = secure_channel(address, tls)
        self._stub: Any = pb_grpc.CatalogueStub(self._channel)

    def fetch(self, since: int) -> Iterator[tuple[int, bytes, bytes]]:
        """``(version, file bytes, signed entry JSON)`` of every version after ``since``."""
        request = pb.CatalogueRequest(since_version=since)
        data, version = bytearray(), 0
        try:
            for chunk in self._stub.FetchCatalogue(request, timeout=FETCH_TIMEOUT_S):
                if chunk.version != version:
                    data, version = bytearray(), chunk.version
                data += chunk.data
                if chunk.entry:
                    yield version, bytes(data), bytes(chunk.entry)
                    data = bytearray()
        except grpc.RpcError as err:
            raise convert.refusal(err) from err

    def submit(self, export: bytes) -> int:
        """Send this instance's export; the latest version published so far."""
        chunks = (
            pb.CatalogueExportChunk(data=export[k : k + CHUNK])
            for k in range(0, max(len(export), 1), CHUNK)
        )
        try:
            return int(
                self._stub.SubmitCatalogueExport(chunks, timeout=FETCH_TIMEOUT_S).latest_version
            )
        except grpc.RpcError as err:
            raise convert.refusal(err) from err

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()


class LazyCatalogueClient:
    """A :class:`GrpcCatalogueClient` opened on first use (most rounds fetch nothing)."""

    def __init__(self, address: str, tls: CertPaths) -> None:
        self.address, self.tls = address, tls
        self._client: GrpcCatalogueClient | None = None

    def _open(self) -> GrpcCatalogueClient:
        if self._client is None:
            self._client = GrpcCatalogueClient(self.address, self.tls)
        return self._client

    def fetch(self, since: int) -> Iterator[tuple[int, bytes, bytes]]:
        """As :meth:`GrpcCatalogueClient.fetch`."""
        return self._open().fetch(since)

    def submit(self, export: bytes) -> int:
        """As :meth:`GrpcCatalogueClient.submit`."""
        return self._open().submit(export)
