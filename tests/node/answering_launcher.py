"""A small launcher for a real node daemon, over a real gRPC server with mutual TLS: it
answers the node's calls as each test needs, and serves a fixed list of announcements, the
next one only once the node asked for it (it handled the one before, or it watches again
after registering). So a test counts the node's ``Register`` and step calls and reads its
log lines in a fixed number of announcements, never by time (docs/operations.md, "What the
node does with each answer"; :mod:`mpcrec.node.reconnect`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.federation.announcement import Phase, RoundAnnouncement
from mpcrec.federation.registration import Registered
from mpcrec.federation.tls import server_credentials
from mpcrec.node.daemon import Node
from mpcrec.node.grpc_client import GrpcLauncherClient
from mpcrec.node.trainer import DriftTrainer
from mpcrec.proto import convert, convert_rounds
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc
from tests.node.world import SPEC, node_config

ME = "tube-a"
REFUSED = "the envelope for tube-b is sealed to member 1, not 0 (the round's committee order)"
#: A call's answer: ``None`` (accepted), the status and details it is refused with, or an
#: exception the servicer raises (gRPC answers ``UNKNOWN``, as to a bug in the launcher).
Answer = tuple[grpc.StatusCode, str] | Exception | None


def announced(phase: Phase, round_id: int = 1) -> Any:
    return convert_rounds.announcement_to_pb(
        RoundAnnouncement(round_id=round_id, model_version=0, phase=phase, participants=(ME,))
    )


class Script:
    """The announcements served, one at a time: the next one only when the node asks for it.

    The node's watches and the server's are numbered in the order they open (one at a
    time), so an announcement is never given to a watch the node has left."""

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.done = threading.Event()  # the node asked for one more than there are
        self._cond = threading.Condition()
        self._served = 0
        self._asked: list[int] = []  # per watch (the node's numbering): asked for
        self._given: list[int] = []  # per watch (the server's numbering): given

    def node_watches(self) -> int:
        with self._cond:
            self._asked.append(0)
            return len(self._asked) - 1

    def ask(self, watch: int) -> None:
        with self._cond:
            self._asked[watch] += 1
            if self._served == len(self.items):
                self.done.set()
            self._cond.notify_all()

    def server_watches(self) -> int:
        with self._cond:
            self._given.append(0)
            return len(self._given) - 1

    def next_for(self, watch: int, active: Callable[[], bool]) -> Any | None:
        with self._cond:
            while active():  # never ends a watch: the node leaves it (or the test stops)
                asked = self._asked[watch] if watch < len(self._asked) else 0
                if asked > self._given[watch] and self._served < len(self.items):
                    self._given[watch] += 1
                    self._served += 1
                    return self.items[self._served - 1]
                self._cond.wait(0.05)
            return None


class Servicer(pb_grpc.LauncherServicer):  # type: ignore[misc]
    """Serves the script, answers registrations, commitments and reveals as told (by the
    call's number: 0, 1, ...; accepted if not told), and counts every call."""

    def __init__(self, script: Script, answers: dict[str, Callable[[int], Answer]]) -> None:
        self.script = script
        self.answers = answers
        self.calls = {"register": 0, "commit": 0, "reveal": 0}

    def _answer(self, call: str, context: Any, reply: Any) -> Any:
        answer = self.answers.get(call, accepted)(self.calls[call])
        self.calls[call] += 1
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            context.abort(*answer)
        return reply

    def Register(self, request: Any, context: Any) -> Any:
        registered = Registered(request.instance_id, b"k" * 32, 0, SPEC, 1, 1)
        return self._answer("register", context, convert.registered_to_pb(registered))

    def WatchRounds(self, request: Any, context: Any) -> Iterator[Any]:
        watch = self.script.server_watches()
        while (item := self.script.next_for(watch, context.is_active)) is not None:
            yield item

    def SubmitCommit(self, request: Any, context: Any) -> Any:
        return self._answer("commit", context, pb.Ack(detail="commit stored"))

    def SubmitReveal(self, request: Any, context: Any) -> Any:
        return self._answer("reveal", context, pb.Ack(detail="reveal stored"))


class Paced:
    """The node's gRPC client, its watches paced by the script (:class:`Script`)."""

    def __init__(self, client: GrpcLauncherClient, script: Script) -> None:
        self.client, self.script = client, script

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def watch_rounds(self, after_round: int = 0) -> Iterator[RoundAnnouncement]:
        watch = self.script.node_watches()
        self.script.ask(watch)
        for ann in self.client.watch_rounds(after_round):
            yield ann  # resumed once the node handled it
            self.script.ask(watch)


@dataclass
class Run:
    """What the node called and logged."""

    calls: dict[str, int]
    records: list[logging.LogRecord]

    def lines(self, level: int, text: str = "") -> list[str]:
        """The messages logged at ``level`` that contain ``text``."""
        found = [r.getMessage() for r in self.records if r.levelno == level]
        return [line for line in found if text in line]

    def unreachable(self) -> list[str]:
        """Every "launcher unreachable" line, at any level."""
        return [r.getMessage() for r in self.records if UNREACHABLE in r.getMessage()]


def run_node(
    root: Path,
    port: int,
    caplog: pytest.LogCaptureFixture,
    items: list[Any],
    **answers: Callable[[int], Answer],
) -> Run:
    """Run a real node daemon against the servicer until it asks for more than ``items``."""
    create_ca(root / "ca")
    tls = issue_certificate(root / "ca", root, instance_id="launcher", hosts=["127.0.0.1"])
    mine = issue_certificate(root / "ca", root, instance_id=ME, hosts=[])
    address = f"127.0.0.1:{port}"
    script = Script(items)
    servicer = Servicer(script, answers)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_LauncherServicer_to_server(servicer, server)
    server.add_secure_port(address, server_credentials(tls))
    server.start()
    caplog.set_level(logging.DEBUG, logger="mpcrec.node")
    node = Node(
        node_config(root, ME, tls=mine, launcher=address),
        DriftTrainer(ME),
        connect=lambda: Paced(GrpcLauncherClient(address, mine), script),
    )
    stop = threading.Event()
    thread = threading.Thread(target=node.run, args=(stop,), daemon=True)
    try:
        thread.start()
        assert script.done.wait(60), (servicer.calls, caplog.text)
    finally:
        stop.set()
        thread.join(30)
        node.close()
        server.stop(grace=None)
    assert not thread.is_alive()
    return Run(dict(servicer.calls), list(caplog.records))


def accepted(n: int) -> Answer:
    """Every call accepted."""
    return None


def always(answer: Answer) -> Callable[[int], Answer]:
    return lambda n: answer


def first(k: int, answer: Answer) -> Callable[[int], Answer]:
    return lambda n: answer if n < k else None


UNREACHABLE = "launcher unreachable ("
OPEN = [announced(Phase.OPEN)] * 3  # round 1 announced open three times
REVEALING = [announced(Phase.REVEALING)] * 3
