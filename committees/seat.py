"""A node's seat on committees: one warm CrypTen party process, started the first time the
node is drawn and reused for every later committee (torch and CrypTen are imported once).

Each round the party joins that round's CrypTen session (rendezvous at member 0's MPC
address), opens this member's sealed shares, runs the committee program
(:func:`mpcrec.secure.program.aggregate`) and leaves. Every wait has a deadline; a party
that errs reports it, a party that misses the deadline is killed and replaced, and either
way the round raises :class:`~mpcrec.errors.RoundAborted`, which the node reports to the
launcher as a failed result. Nodes that are never drawn never start a party.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from typing import Any

from committees.party import STARTUP_TIMEOUT_S, SealedInputs, Session, await_ready, party_main
from mpcrec.errors import RoundAborted
from mpcrec.secure.program import RoundOutcome, RoundSpec

log = logging.getLogger("committees.seat")
_CTX = mp.get_context("spawn")


class CommitteeSeat:
    """The node's party process and the pipe that drives it."""

    def __init__(self, name: str, replay_registry: str | None = None) -> None:
        self.name = name
        self.replay_registry = replay_registry  # the member's accepted nonces (a file)
        self._proc: Any = None
        self._conn: Any = None

    def _ensure(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            return
        self._conn, child = _CTX.Pipe()
        self._proc = _CTX.Process(
            target=party_main,
            args=(child, self.replay_registry),
            name=f"{self.name}-party",
            daemon=True,
        )
        self._proc.start()
        child.close()
        try:
            await_ready(self._conn, self.name, STARTUP_TIMEOUT_S)
        except RoundAborted:
            self.close()
            raise
        log.info("%s: committee party started (pid %s)", self.name, self._proc.pid)

    def _ask(self, command: tuple[Any, ...], timeout: float) -> Any:
        self._conn.send(command)
        if not self._conn.poll(timeout):
            self.close()
            raise RoundAborted(
                f"{self.name}: the party did not answer {command[0]!r} in {timeout:.0f}s"
            )
        try:
            status, value = self._conn.recv()
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
            if self._proc is not None and self._proc.is_alive():
                try:
                    self._ask(("leave",), timeout)
                except RoundAborted as err:
                    log.warning("%s", err)

    def deal(self, session: Session, *, timeout: float) -> None:
        """Be the TTP dealer of ``session`` until its members end it."""
        self._ensure()
        self._ask(("dealer", session), timeout)

    def close(self) -> None:
        """Stop the party process."""
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join(5)
            self._conn.close()
        self._proc = None
