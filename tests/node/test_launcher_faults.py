"""What a real node daemon does with the gRPC statuses that are neither a refusal of its
message nor "no answer" (``UNKNOWN``, ``INTERNAL``, ``DATA_LOSS``, ``RESOURCE_EXHAUSTED``,
``UNIMPLEMENTED``, ``NOT_FOUND``, ``OUT_OF_RANGE``: :mod:`mpcrec.proto.faults`), over a real
gRPC server with mutual TLS (:mod:`tests.node.answering_launcher`). Before, the node took
each for an unreachable launcher: it registered again and sent the step again, three
registrations and three commitments in three announcements, each logged as an outage.
"""

from __future__ import annotations

import logging
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.federation.refusals import LauncherFault
from mpcrec.federation.tls import server_credentials
from mpcrec.node.grpc_client import GrpcLauncherClient
from mpcrec.proto import federation_pb2_grpc as pb_grpc
from tests.node.answering_launcher import OPEN, REVEALING, always, first, run_node

Code = grpc.StatusCode
#: (the status and details a commitment is answered with, what the node's WARNING calls it)
STEP_FAULTS: list[tuple[grpc.StatusCode, str, str]] = [
    (Code.INTERNAL, "Received RST_STREAM with error code 2", "launcher error"),
    (Code.DATA_LOSS, "a frame of 12 bytes ended after 7", "launcher error"),
    (
        Code.RESOURCE_EXHAUSTED,
        "Received message larger than max (70000123 vs. 67108864)",
        "message over the size limit",
    ),
    (Code.RESOURCE_EXHAUSTED, "Concurrent RPC limit exceeded!", "launcher overloaded"),
    (Code.UNIMPLEMENTED, "Method not found!", "call unknown to the launcher"),
    (Code.NOT_FOUND, "no route /mpcrec.Launcher", "answer not from mpcrec's launcher"),
    (Code.OUT_OF_RANGE, "offset 9 past the end", "answer not from mpcrec's launcher"),
]


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("code", "details", "kind"), STEP_FAULTS, ids=[f"{c.name}-{k}" for c, _, k in STEP_FAULTS]
)
def test_a_fault_on_a_step_is_one_warning_per_round_and_step_and_no_registration_again(
    tmp_path: Path,
    port: int,
    caplog: pytest.LogCaptureFixture,
    code: grpc.StatusCode,
    details: str,
    kind: str,
) -> None:
    # Execute: every commitment and reveal answered with the fault, in three announcements
    # of round 1 open and two revealing
    fault = always((code, details))
    run = run_node(tmp_path, port, caplog, [*OPEN, *REVEALING[:2]], commit=fault, reveal=fault)

    # Assert: registered once, each step sent once; one WARNING per step naming what it
    # is, the status and its details, and what it means; never "unreachable"
    assert run.calls == {"register": 1, "commit": 1, "reveal": 1}, run.calls
    warned = run.lines(logging.WARNING, details)
    assert len(warned) == 2, warned
    for step, line in zip(["commit", "reveal"], warned, strict=True):
        assert f"round 1: {kind} on its {step} ({code.name}: {details}): " in line, line
        assert line.endswith("; not taken again this round"), line
    assert run.unreachable() == []


@pytest.mark.timeout(90)
def test_an_exception_in_the_launchers_service_is_a_launcher_error_with_its_words(
    tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Execute: the servicer raises on every commitment: gRPC itself answers UNKNOWN
    bug = KeyError("round 1 has no row in commits")
    run = run_node(tmp_path, port, caplog, OPEN, commit=always(bug))

    # Assert: as any fault: once, with gRPC's details (the exception) and what to look at
    assert run.calls == {"register": 1, "commit": 1, "reveal": 0}, run.calls
    warned = run.lines(logging.WARNING, "round 1: launcher error on its commit (UNKNOWN: ")
    assert len(warned) == 1, run.lines(logging.WARNING)
    assert "round 1 has no row in commits" in warned[0]
    assert "its log at this time has the traceback" in warned[0]
    assert run.unreachable() == []


@pytest.mark.timeout(90)
def test_a_fault_on_the_registration_backs_off_with_one_warning_not_an_outage(
    tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Execute: the first three registrations answered INTERNAL, then the round goes on
    broken = (Code.INTERNAL, "upstream connect error or disconnect/reset before headers")
    run = run_node(tmp_path, port, caplog, OPEN[:1], register=first(3, broken))

    # Assert: registered again with the refusals' backoff until it worked (one WARNING,
    # the repeats at DEBUG); never "unreachable", never "reachable again"
    assert run.calls == {"register": 4, "commit": 1, "reveal": 0}, run.calls
    warned = run.lines(logging.WARNING, "upstream connect error")
    assert len(warned) == 1, warned
    assert "launcher error on its registration (INTERNAL: upstream connect" in warned[0]
    assert "registering again in" in warned[0] and "backing off up to 30 s" in warned[0]
    assert len(run.lines(logging.DEBUG, "upstream connect error")) == 2
    assert run.unreachable() == []
    assert run.lines(logging.INFO, "reachable again") == []


@pytest.mark.timeout(60)
def test_a_message_over_the_launchers_size_limit_is_named_with_grpcs_own_words(
    tmp_path: Path, port: int
) -> None:
    # Prepare: a launcher whose server takes messages of at most 64 bytes (a proxy's lower
    # limit, say); no servicer is needed: gRPC refuses the message before any handler
    create_ca(tmp_path / "ca")
    tls = issue_certificate(tmp_path / "ca", tmp_path, instance_id="launcher", hosts=["127.0.0.1"])
    mine = issue_certificate(tmp_path / "ca", tmp_path, instance_id="tube-a", hosts=[])
    limit = [("grpc.max_receive_message_length", 64)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=limit)
    pb_grpc.add_LauncherServicer_to_server(pb_grpc.LauncherServicer(), server)
    server.add_secure_port(f"127.0.0.1:{port}", server_credentials(tls))
    server.start()
    client = GrpcLauncherClient(f"127.0.0.1:{port}", mine)

    # Execute: a signed seed commitment (about 100 bytes)
    try:
        with pytest.raises(LauncherFault) as raised:
            client.commit(1, b"c" * 32, b"s" * 64)
    finally:
        client.close()
        server.stop(grace=None)

    # Assert: the size limit, named with gRPC's details and where the limit is set
    fault = raised.value
    assert (fault.status, fault.kind) == ("RESOURCE_EXHAUSTED", "message over the size limit")
    assert "larger than max" in fault.message and "vs. 64)" in fault.message, fault.message
    assert fault.hint is not None and "mpcrec.federation.tls.MAX_MESSAGE" in fault.hint
