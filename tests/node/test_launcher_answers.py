"""What a real node daemon does with each kind of answer from the launcher, over a real
gRPC server with mutual TLS (:mod:`tests.node.answering_launcher`): each test counts the
node's ``Register`` and step calls and reads its log lines in a fixed number of
announcements, never by time (docs/operations.md, "What the node does with each answer";
:mod:`mpcrec.node.reconnect`). The faults (``INTERNAL``, ``RESOURCE_EXHAUSTED``, ...):
tests/node/test_launcher_faults.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest

from mpcrec.proto import federation_pb2 as pb
from tests.node.answering_launcher import (
    OPEN,
    REFUSED,
    REVEALING,
    UNREACHABLE,
    always,
    first,
    run_node,
)

INVALID = (grpc.StatusCode.INVALID_ARGUMENT, REFUSED)
#: No answer (mpcrec.proto.faults.UNREACHABLE): the launcher is away, the step is taken again.
UNREACHABLE_CODES = [
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
]


@pytest.mark.timeout(90)
def test_a_refused_step_is_logged_once_a_round_and_the_node_stays_on_its_watch(
    tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Execute: every commitment and reveal refused (INVALID_ARGUMENT), in six announcements
    run = run_node(
        tmp_path,
        port,
        caplog,
        [*OPEN, *REVEALING],
        commit=always(INVALID),
        reveal=always(INVALID),
    )

    # Assert: one registration, each step sent once, one WARNING per step with the reason
    assert run.calls == {"register": 1, "commit": 1, "reveal": 1}, run.calls
    warned = run.lines(logging.WARNING, REFUSED)
    assert len(warned) == 2, warned
    assert "round 1: the launcher refused its commit (INVALID_ARGUMENT)" in warned[0], warned
    assert "round 1: the launcher refused its reveal (INVALID_ARGUMENT)" in warned[1], warned
    assert run.unreachable() == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    "code",
    [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED],
    ids=lambda c: str(c.name),
)
def test_a_step_refused_as_not_permitted_registers_again_with_backoff_and_one_warning(
    tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture, code: grpc.StatusCode
) -> None:
    # Execute: every commitment refused as not permitted (its registration is the way on)
    denied = (code, "tube-a is not registered")
    run = run_node(tmp_path, port, caplog, OPEN, commit=always(denied))

    # Assert: registered again after each (with the backoff), the step taken again; one
    # WARNING with the reason, the repeats at DEBUG, never "unreachable"
    assert run.calls == {"register": 4, "commit": 3, "reveal": 0}, run.calls
    warned = run.lines(logging.WARNING, "tube-a is not registered")
    assert len(warned) == 1, warned
    assert f"the launcher refused its commit of round 1 ({code.name})" in warned[0]
    assert "registering again in" in warned[0]
    assert len(run.lines(logging.DEBUG, "tube-a is not registered")) == 2
    assert run.unreachable() == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("code", "details"),
    [
        (grpc.StatusCode.ALREADY_EXISTS, "tube-a already committed in round 1"),
        (grpc.StatusCode.FAILED_PRECONDITION, "round 1 is revealing: a seed commitment is late"),
    ],
    ids=["ALREADY_EXISTS", "FAILED_PRECONDITION"],
)
def test_a_duplicate_or_a_late_step_counts_as_done_quietly(
    tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture, code: grpc.StatusCode, details: str
) -> None:
    # Execute: every commitment answered as a duplicate, or as too late for the round
    run = run_node(tmp_path, port, caplog, OPEN, commit=always((code, details)))

    # Assert: the step counts as done: sent once, one DEBUG line, no WARNING, no registration
    assert run.calls == {"register": 1, "commit": 1, "reveal": 0}, run.calls
    assert len(run.lines(logging.DEBUG, f"round 1: {details}")) == 1
    assert run.lines(logging.WARNING) == []
    assert run.unreachable() == []


@pytest.mark.timeout(90)
def test_register_again_registers_again_at_once_and_takes_the_step_again(
    tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Execute: the first commitment answered "register again" (ABORTED), the next accepted
    again = (grpc.StatusCode.ABORTED, "tube-a: sealed under other round parameters")
    run = run_node(tmp_path, port, caplog, OPEN, commit=first(1, again))

    # Assert: registered once more, the commitment sent again and accepted; no warning
    assert run.calls == {"register": 2, "commit": 2, "reveal": 0}, run.calls
    told = run.lines(logging.INFO, "asks this node to register again")
    assert len(told) == 1 and "its commit of round 1" in told[0], told
    assert run.lines(logging.WARNING) == []
    assert run.unreachable() == []


@pytest.mark.timeout(90)
def test_register_again_twice_without_a_round_handled_backs_off_like_a_refusal(
    tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Execute: every commitment answered "register again"
    again = (grpc.StatusCode.ABORTED, "tube-a: sealed under other round parameters")
    run = run_node(tmp_path, port, caplog, OPEN, commit=always(again))

    # Assert: once at once (INFO), then with the refusals' backoff (one WARNING, then DEBUG)
    assert run.calls == {"register": 4, "commit": 3, "reveal": 0}, run.calls
    assert len(run.lines(logging.INFO, "asks this node to register again")) == 1
    warned = run.lines(logging.WARNING, "sealed under other round parameters")
    assert len(warned) == 1 and "(ABORTED)" in warned[0], warned
    assert run.unreachable() == []


@pytest.mark.timeout(90)
@pytest.mark.parametrize("code", UNREACHABLE_CODES, ids=lambda c: str(c.name))
def test_an_unreachable_launcher_is_one_warning_per_outage_and_one_line_when_back(
    tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture, code: grpc.StatusCode
) -> None:
    # Execute: the first three commitments answered UNAVAILABLE (the launcher's disk is
    # full, say: it answers the registration, not the write; DEADLINE_EXCEEDED and
    # CANCELLED as gRPC gives them when no answer came), then the round goes on
    full = (code, "the launcher's store cannot write; nothing was kept")
    run = run_node(tmp_path, port, caplog, [*OPEN, REVEALING[0]], commit=first(3, full))

    # Assert: today's backoff (registered again after each failure, the step taken again);
    # one WARNING for the outage, one INFO once an announcement was handled again
    assert run.calls == {"register": 4, "commit": 3, "reveal": 1}, run.calls
    warned = run.lines(logging.WARNING, UNREACHABLE)
    assert len(warned) == 1 and "the launcher's store cannot write" in warned[0], warned
    back = run.lines(logging.INFO, "launcher reachable again")
    assert len(back) == 1 and "after 3 attempts" in back[0], back


@pytest.mark.timeout(90)
def test_a_malformed_announcement_is_a_protocol_error_not_an_unreachable_launcher(
    tmp_path: Path, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Execute: the second announcement has a state no round has
    bad = pb.RoundAnnouncement(round_id=1, state="half-open")
    run = run_node(tmp_path, port, caplog, [OPEN[0], bad, REVEALING[0]])

    # Assert: the watch ended, registered again (with backoff), one WARNING naming it
    assert run.calls == {"register": 2, "commit": 1, "reveal": 1}, run.calls
    warned = run.lines(logging.WARNING, "unknown state 'half-open'")
    assert len(warned) == 1 and "its watch is malformed" in warned[0], warned
    assert run.unreachable() == []
