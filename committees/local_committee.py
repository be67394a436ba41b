"""A whole committee on one machine: k member processes (and a dealer) for tests and benchmarks.

:class:`LocalCommittee` starts the party processes once (spawned, so each imports torch and
CrypTen once), joins them into one CrypTen session over a TCP rendezvous on a free
loopback port, and reuses that session for every round. Every wait has a deadline. If a
party dies, errs or misses the deadline, the round raises
:class:`~mpcrec.errors.RoundAborted`: survivors that reported the error have left the
broken session themselves; any party that did not answer in time is killed and replaced;
the dealer is always replaced; the next round joins a fresh session on a new port.
Nothing is revealed by an aborted round (the reveal is the program's last step, and a
reveal needs every member).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import socket
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.connection import wait
from pathlib import Path
from types import TracebackType
from typing import Any

from committees.party import MemberInputs, party_main
from committees.session import STARTUP_TIMEOUT_S, Session, SessionSettings, await_ready
from committees.transport.settings import TlsTransport, local_committee_transports
from mpcrec.errors import ConfigError, RoundAborted
from mpcrec.secure.program import RoundOutcome, RoundSpec

log = logging.getLogger(__name__)

_CTX = mp.get_context("spawn")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class _Party:
    """One party process and our end of its command pipe."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ready = False
        self.conn, child = _CTX.Pipe()
        self.process = _CTX.Process(target=party_main, args=(child,), name=name, daemon=True)
        self.process.start()
        child.close()

    def await_ready(self, timeout: float) -> None:
        """Wait until the process has imported torch and CrypTen (its ``ready`` message)."""
        if not self.ready:
            self.ready = await_ready(self.conn, self.name, timeout)

    def send(self, *command: Any) -> None:
        self.conn.send(command)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class LocalCommittee:
    """k committee members (plus a TTP dealer when the settings need one) on this machine.

    Parameters
    ----------
    members:
        Committee size ``k`` (3 for ``replicated``).
    settings:
        Protocol, provider and the per-step timeout.
    host:
        Loopback address for the rendezvous.
    transport:
        ``"tls"`` (default: mutually authenticated TLS between the parties, certificates
        from a throwaway local CA) or ``"gloo"`` (plaintext torch.distributed).

    Use as a context manager; :meth:`run_round` runs one round and returns member 0's
    :class:`RoundOutcome` (every member's outcome is in :attr:`last_outcomes`).
    """

    def __init__(
        self,
        members: int = 3,
        settings: SessionSettings | None = None,
        host: str = "127.0.0.1",
        transport: str = "tls",
    ) -> None:
        if transport not in ("tls", "gloo"):
            raise ConfigError(f"unknown transport {transport!r}", hint="use 'tls' or 'gloo'")
        self.transport = transport
        self._pki = tempfile.TemporaryDirectory(prefix="mpcrec-committee-")
        self._sessions = 0
        self.settings = settings or SessionSettings()
        self.settings.check(members)
        self.members = members
        self.host = host
        self.parties: list[_Party] = []
        self.dealer: _Party | None = None
        self.joined = False
        self.last_outcomes: list[RoundOutcome] = []
        self.rendezvous = ""

    def __enter__(self) -> LocalCommittee:
        self.parties = [_Party(f"member-{i}") for i in range(self.members)]
        self._join()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """Process ids of the members (then the dealer)."""
        procs = [p.process for p in self.parties] + ([self.dealer.process] if self.dealer else [])
        return [int(p.pid) for p in procs if p.pid is not None]

    def _join(self) -> None:
        if self.settings.has_dealer:
            self.dealer = self.dealer or _Party("dealer")
        self._await_ready()
        self.rendezvous = f"tcp://{self.host}:{_free_port(self.host)}"
        tls = self._tls_transports()
        if self.dealer is not None:
            dealer_session = Session(
                self.rendezvous, self.members, self.members, self.settings, tls[self.members]
            )
            self.dealer.send("dealer", dealer_session)
        for rank, party in enumerate(self.parties):
            party.send(
                "join", Session(self.rendezvous, rank, self.members, self.settings, tls[rank])
            )
        self._collect("join", self.settings.timeout_s + 60.0)
        self.joined = True

    def _await_ready(self) -> None:
        """Every party (and the dealer) has started: only then do a session's deadlines run
        (a replacement importing torch on a busy machine must not time the others out)."""
        for i, party in enumerate([*self.parties, *([self.dealer] if self.dealer else [])]):
            try:
                party.await_ready(STARTUP_TIMEOUT_S)
            except RoundAborted as err:
                self._abort(f"join failed: {err}", unanswered={i})

    def _tls_transports(self) -> list[TlsTransport | None]:
        """One TLS transport per rank on fresh ports (or ``None`` each for gloo)."""
        ranks = self.members + (1 if self.settings.has_dealer else 0)
        if self.transport == "gloo":
            return [None] * ranks
        self._sessions += 1
        return list(
            local_committee_transports(
                Path(self._pki.name),
                ranks,
                host=self.host,
                session=f"local-{self._sessions}",
                recv_timeout_s=self.settings.timeout_s,
                connect_timeout_s=self.settings.timeout_s,
            )
        )

    def stage(self, spec: RoundSpec, member_inputs: Sequence[MemberInputs]) -> None:
        """Hand each member its inputs for the next :meth:`run_staged` (not timed)."""
        if len(member_inputs) != self.members:
            raise ValueError(f"{len(member_inputs)} inputs for {self.members} members")
        if not self.joined:
            self._join()
        for party, inputs in zip(self.parties, member_inputs, strict=True):
            party.send("stage", spec, inputs)
        self._collect("stage", self.settings.timeout_s)

    def run_staged(self) -> RoundOutcome:
        """Run the staged round; raises :class:`RoundAborted` on any failure."""
        for party in self.parties:
            party.send("run")
        self.last_outcomes = self._collect("round", self.settings.timeout_s + 10.0)
        first = self.last_outcomes[0]
        if any(o.accepted != first.accepted for o in self.last_outcomes):
            self._abort("members disagree on the accept bits")
        return first

    def run_round(self, spec: RoundSpec, member_inputs: Sequence[MemberInputs]) -> RoundOutcome:
        """Stage and run one round (see :meth:`stage`, :meth:`run_staged`)."""
        self.stage(spec, member_inputs)
        return self.run_staged()

    def _collect(self, step: str, timeout: float) -> list[Any]:
        """Wait for every member's reply to ``step``; abort the session on any failure."""
        deadline = time.monotonic() + timeout
        replies: dict[int, Any] = {}
        errors: list[str] = []
        pending = {p.conn: i for i, p in enumerate(self.parties)}
        sentinels = {p.process.sentinel: i for i, p in enumerate(self.parties)}
        if self.dealer is not None:
            sentinels[self.dealer.process.sentinel] = -1
        while pending and time.monotonic() < deadline:
            ready = wait([*pending, *sentinels], timeout=max(0.0, deadline - time.monotonic()))
            for obj in ready:
                if obj in pending:
                    idx = pending.pop(obj)  # type: ignore[call-overload]
                    try:
                        status, value = self.parties[idx].conn.recv()
                    except (EOFError, OSError):
                        status, value = "error", "process died"
                    if status == "ok":
                        replies[idx] = value
                    else:
                        errors.append(f"member {idx}: {value}")
                elif isinstance(obj, int) and obj in sentinels:
                    who = sentinels.pop(obj)
                    name = "dealer" if who < 0 else f"member {who}"
                    errors.append(f"{name} died")
            if errors and step != "stage":
                # give the survivors the step timeout to notice and report
                deadline = min(deadline, time.monotonic() + self.settings.timeout_s + 5.0)
        if pending:
            errors.append(f"no reply within {timeout:.0f}s from members {sorted(pending.values())}")
        if errors:
            self._abort(f"{step} failed: " + "; ".join(errors), unanswered=set(pending.values()))
        return [replies[i] for i in range(self.members)]

    def _abort(self, reason: str, unanswered: set[int] | None = None) -> None:
        """Replace dead or silent parties and the dealer; the next round joins afresh."""
        log.warning("aborting committee session %s: %s", self.rendezvous, reason)
        self.joined = False
        leaving = []
        for i, party in enumerate(self.parties):
            if party.ready and party.process.is_alive() and not (unanswered and i in unanswered):
                with contextlib.suppress(OSError):
                    party.send("leave")
                    leaving.append(i)
        for i, party in enumerate(self.parties):
            if (
                not party.ready
                and party.process.is_alive()
                and not (unanswered and i in unanswered)
            ):
                continue  # still starting: it joined nothing, its ready message is still due
            try:
                left = (
                    i in leaving and party.conn.poll(self.settings.timeout_s) and party.conn.recv()
                )
            except (EOFError, OSError):
                left = False
            if not left:
                party.kill()
                self.parties[i] = _Party(f"member-{i}")
        if self.dealer is not None:
            self.dealer.kill()
            self.dealer = None
        raise RoundAborted(reason)

    def close(self) -> None:
        """Stop every process (politely, then by force)."""
        for party in [*self.parties, *([self.dealer] if self.dealer else [])]:
            with contextlib.suppress(OSError):
                party.send("exit")  # the dealer reads it once member 0 has ended its session
        for party in self.parties:
            party.process.join(10)
            party.kill()
        if self.dealer is not None:
            self.dealer.process.join(5)
            self.dealer.kill()
        self.parties, self.dealer = [], None
        self._pki.cleanup()
