"""Time-bound calls are served while the log checks fill their bound (issue 15).

At a thousand instances every node sends its log checks (tree heads, inclusion proofs) at
the end of a round, at the moment the next round's commitments are due. Before, those checks
were plain handlers in the launcher's worker pool: enough of them took every thread and a
commitment waited behind them, past its window. Here the log checks are held (they block
until released) in numbers far above the pool's size, and a commitment must still be answered
while they are held; every check is answered once released.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mpcrec.audit.entries import TreeHead
from mpcrec.proto import federation_pb2 as pb
from tests.launch.test_service import T, _wait_state, served_launcher

WORKERS = 4  # the launcher's worker pool, small so that a few held calls would fill it
HELD = 3 * WORKERS  # log checks sent and held at once, of each kind


class HeldLogChecks:
    """The launcher's log checks, each blocked until :attr:`release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = 0
        self._count = threading.Lock()

    def _hold(self) -> None:
        with self._count:
            self.entered += 1
        self.release.wait(3 * T)

    def tree_head(self, known_size: int) -> tuple[TreeHead, list[bytes]]:
        self._hold()
        return TreeHead(size=1, root=b"\x00" * 32, signature=b"\x01" * 64), []

    def inclusion_proof(self, entry_signature: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        self._hold()
        return 0, []


@pytest.fixture
def held(tmp_path: Path, port: int) -> Iterator[dict[str, Any]]:
    with served_launcher(tmp_path, port, commit_s=3 * T, workers=WORKERS) as (launcher, clients):
        checks = HeldLogChecks()
        launcher.tree_head = checks.tree_head  # type: ignore[method-assign]
        launcher.inclusion_proof = checks.inclusion_proof  # type: ignore[method-assign]
        try:
            yield {"clients": clients, "checks": checks}
        finally:
            checks.release.set()


def test_commitment_answered_while_log_checks_fill_their_bound(held: dict[str, Any]) -> None:
    clients, checks = held["clients"], held["checks"]
    for c in clients.values():
        c.register()
    ann = _wait_state(clients["a"], "open")
    checker = clients["b"].stub
    pending = [
        checker.GetTreeHead.future(pb.TreeHeadRequest(known_size=0), timeout=3 * T)
        for _ in range(HELD)
    ] + [
        checker.GetInclusionProof.future(
            pb.InclusionRequest(entry_signature=b"\x02" * 64, tree_size=1), timeout=3 * T
        )
        for _ in range(HELD)
    ]
    deadline = time.monotonic() + T
    while checks.entered < 2 and time.monotonic() < deadline:  # the checks are held
        time.sleep(0.02)
    assert checks.entered >= 2
    try:
        # before: every pool thread held a log check, and this waited for them (timed out)
        ack = clients["a"].commit(ann.round_id, b"\x03" * 32)
        assert ack.detail == "commitment stored"
        assert checks.entered < WORKERS  # the pool was never full of log checks
    finally:
        checks.release.set()
    answered = [call.result(timeout=3 * T) for call in pending]
    assert all(r.size == 1 for r in answered[:HELD])
    assert checks.entered == 2 * HELD
