"""A node's seat on committees: its CrypTen party process, started when the node is drawn.

The node daemon never imports torch or CrypTen: only the party process does
(:func:`_party_process`, the spawn target, imports :mod:`committees.party` in the child).
:meth:`CommitteeSeat.start` spawns it without waiting, so the node can start it the moment it
is drawn and let torch and CrypTen load while the round collects; the first command waits
for its ``ready`` message. :meth:`CommitteeSeat.close` stops it; a node that keeps a warm
seat (``committee: {warm_seat: true}`` in node.yaml) starts it once and keeps it.

Each round the party joins that round's CrypTen session, opens this member's sealed shares,
runs the committee program (:func:`mpcrec.secure.program.aggregate`) and leaves. Every
wait has a deadline; a party that errs reports it, a party that misses the deadline is
killed and replaced, and either way the round raises :class:`~mpcrec.errors.RoundAborted`,
which the node reports to the launcher as a failed result. Nodes that are never drawn never
start a party.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import time
from typing import Any

from committees.session import STARTUP_TIMEOUT_S, SealedInputs, Session, await_ready
from mpcrec.errors import RoundAborted
from mpcrec.secure.program import RoundOutcome, RoundSpec

log = logging.getLogger("committees.seat")
_CTX = mp.get_context("spawn")
#: How long a stopping party may take to leave its session before it is killed.
EXIT_GRACE_S = 2.0


def _party_process(conn: Any, replay_registry: str | None) -> None:
    """The party process's entry point: torch and CrypTen are imported here, in the child."""
    from committees.party import party_main

    party_main(conn, replay_registry)


class CommitteeSeat:
    """The node's party process and the pipe that drives it."""

    def __init__(self, name: str, replay_registry: str | None = None) -> None:
        self.name = name
        self.replay_registry = replay_registry  # the member's accepted nonces (a file)
        self._proc: Any = None
        self._conn: Any = None
        self._starting = 0.0  # monotonic time the process was spawned, until it is ready

    @property
    def running(self) -> bool:
        """Whether a party process is alive (starting or ready)."""
        return self._proc is not None and bool(self._proc.is_alive())

    def start(self) -> None:
        """Spawn the party process unless one is alive; returns at once (the process
        imports torch and CrypTen meanwhile; the first command waits for it)."""
        if self.running:
            return
        self.close()  # a dead one: release its pipe
        self._conn, child = _CTX.Pipe()
        self._proc = _CTX.Process(
            target=_party_process,
            args=(child, self.replay_registry),
            name=f"{self.name}-party",
            daemon=True,
        )
        self._proc.start()
        child.close()
        self._starting = time.monotonic()

    def _ensure(self) -> None:
        self.start()
        if not self._starting:
            return
        try:
            await_ready(self._conn, self.name, STARTUP_TIMEOUT_S)
        except RoundAborted as err:
            code = self._proc.exitcode if self._proc is not None else None
            self.close()
            raise RoundAborted(f"{err} (party exit code {code})") from err
        waited, self._starting = time.monotonic() - self._starting, 0.0
        log.info("%s: committee party ready (pid %s, %.1fs)", self.name, self._proc.pid, waited)

    def _ask(self, command: tuple[Any, ...], timeout: float) -> Any:
        conn = self._conn  # close() from another thread (the node stopping) sets it to None
        if conn is None:
            raise RoundAborted(f"{self.name}: the party was stopped before {command[0]!r}")
        try:
            conn.send(command)
            answered = conn.poll(timeout)
        except (OSError, ValueError) as err:
            raise RoundAborted(f"{self.name}: the party was stopped during {command[0]!r}") from err
        if not answered:
            self.close()
            raise RoundAborted(
                f"{self.name}: the party did not answer {command[0]!r} in {timeout:.0f}s"
            )
        try:
            status, value = conn.recv()
        except (EOFError, OSError) as err:
            self.close()
            raise RoundAborted(f"{self.name}: the party died during {command[0]!r}") from err
        if status != "ok":
            raise RoundAborted(f"{self.name}: {command[0]} failed: {value}")
        return value

    def compute(
        self, session: Session, spec: RoundSpec, inputs: SealedInputs, *, timeout: float
    ) -> RoundOutcome:
        """Join ``session``, run the round on this member's sealed ``inputs``, leave."""
        self._ensure()
        try:
            self._ask(("join", session), timeout)
            outcome: RoundOutcome = self._ask(("run", spec, inputs), timeout)
            return outcome
        finally:
            if self.running:
                try:
                    self._ask(("leave",), timeout)
                except RoundAborted as err:
                    log.warning("%s", err)

    def deal(self, session: Session, *, timeout: float) -> None:
        """Be the TTP dealer of ``session`` until its members end it."""
        self._ensure()
        self._ask(("dealer", session), timeout)

    def close(self) -> None:
        """Stop the party process: ask a ready one to exit, kill it after
        :data:`EXIT_GRACE_S` (or at once while it is still starting)."""
        proc, conn, starting = self._proc, self._conn, self._starting
        self._proc = self._conn = None
        self._starting = 0.0
        if proc is None:
            return
        if proc.is_alive() and not starting:
            with contextlib.suppress(OSError, ValueError):  # it died meanwhile
                conn.send(("exit",))
            proc.join(EXIT_GRACE_S)
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        conn.close()
        proc.close()
