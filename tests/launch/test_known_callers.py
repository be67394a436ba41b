"""Calls the launcher answers on its event loop, without a hop to its worker pool, once it
has found their caller registered (``GetModel``'s kept chunks; the first check of an
upload): an instance that never registered is refused as before (issue 15)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from mpcrec.proto import federation_pb2 as pb
from tests.launch.test_service import T, world  # noqa: F401 (a fixture)


def _model(client: Any, version: int) -> list[Any]:
    request = pb.GetModelRequest(version=version, shared_result=True)
    return list(client.stub.GetModel(request, timeout=T))


@pytest.mark.timeout(60)
def test_kept_model_chunks_are_served_only_to_registered_callers(
    world: dict[str, Any],  # noqa: F811
) -> None:
    # Prepare: a and b registered; a has fetched model 0 (its chunks are kept)
    clients = world["clients"]
    clients["a"].register()
    clients["b"].register()
    first = _model(clients["a"], 0)

    # Execute: a and b again (kept chunks, a known caller and a new one), then c, never
    # registered, for the same kept version and with an upload
    again, other = _model(clients["a"], 0), _model(clients["b"], 0)
    with pytest.raises(grpc.RpcError) as fetched:
        _model(clients["c"], 0)
    header = pb.ContributionHeader(round_id=1, weight=1.0, recipients=["a"], sizes=[4])
    chunks = [pb.ContributionChunk(header=header), pb.ContributionChunk(data=b"four")]
    with pytest.raises(grpc.RpcError) as uploaded:
        clients["c"].stub.UploadContribution(iter(chunks), timeout=T)

    # Assert: the same chunks for every registered caller; c refused both times
    assert again == first and other == first and first[0].version == 0
    assert fetched.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert uploaded.value.code() is grpc.StatusCode.PERMISSION_DENIED
