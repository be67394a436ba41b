"""A committee party: a long-lived process that joins one CrypTen session per committee.

A node keeps one warm party process (torch and CrypTen imported once) and, whenever it is
drawn, has it join that round's CrypTen session over a ``tcp://host:port`` rendezvous, run
the committee program (:func:`mpcrec.secure.program.aggregate`) on its shares, and
leave. The TTP dealer is the same kind of process in the dealer role: it serves CrypTen's
``TTPServer`` until member 0 ends the session.

The process is driven over a :class:`multiprocessing.connection.Connection` with
:class:`Command` tuples (see :func:`party_main`); every reply is ``("ok", value)`` or
``("error", message)``, so a failure never takes the process down with it: after an error
the party leaves the broken session and can join a fresh one.

Timeouts: every process group of the session gets ``timeout_s`` (gloo raises in a
survivor when a peer dies or stays silent that long), except the groups that contain the
dealer, which idles between requests (a dead dealer still fails fast: its sockets close).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from committees.session import (
    READY,
    SealedInputs,
    Session,
)
from committees.transport.install import install_transport
from committees.transport.settings import GlooTransport
from mpcrec.crypten_compat import load_crypten, set_torch_threads
from mpcrec.crypto.envelope import NonceRegistry, open_share
from mpcrec.errors import ProtocolError
from mpcrec.secure import replicated
from mpcrec.secure.program import RoundOutcome, RoundSpec, aggregate

log = logging.getLogger(__name__)

DEALER_IDLE = timedelta(hours=24)


MemberInputs = Sequence[npt.NDArray[np.int64]] | SealedInputs


@contextlib.contextmanager
def _group_timeouts(timeout: timedelta, dealer_rank: int | None) -> Iterator[None]:
    """Give every process group CrypTen creates our timeout (dealer groups: idle-long)."""
    import torch.distributed as dist

    init, new_group = dist.init_process_group, dist.new_group

    def patched_new_group(ranks: Any = None, *args: Any, **kwargs: Any) -> Any:
        has_dealer = dealer_rank is not None and ranks is not None and dealer_rank in ranks
        kwargs.setdefault("timeout", DEALER_IDLE if has_dealer else timeout)
        return new_group(ranks, *args, **kwargs)

    dist.init_process_group = functools.partial(init, timeout=timeout)
    dist.new_group = patched_new_group
    try:
        yield
    finally:
        dist.init_process_group, dist.new_group = init, new_group


class CommitteeParty:
    """The in-process side of a party: join a session, run rounds, leave.

    ``replay_registry`` is the file keeping the nonces this member accepted across restarts
    (:mod:`mpcrec.crypto.replay`); ``None`` keeps them in memory."""

    def __init__(self, replay_registry: str | None = None) -> None:
        self.session: Session | None = None
        self.seen = NonceRegistry(Path(replay_registry) if replay_registry else None)
        self._crypten = load_crypten()

    def join(self, session: Session) -> None:
        """Join ``session`` (blocks until every rank has joined or the timeout passes)."""
        with self._configured(session):
            self._crypten.init()
        self.session = session

    def serve_dealer(self, session: Session) -> None:
        """Be the session's TTP dealer until member 0 ends the session (or it breaks)."""
        from mpcrec.secure import dealer

        try:
            with self._configured(session):
                self.session = session
                dealer.serve()  # joins the session, then serves until told to terminate
        finally:
            self.leave()

    @contextlib.contextmanager
    def _configured(self, session: Session) -> Iterator[None]:
        """Set CrypTen's environment and config for ``session``; timeouts on every group."""
        session.settings.check(session.members)
        if self.session is not None:
            self.leave()
        crypten = self._crypten
        settings = session.settings
        install_transport(
            session.transport
            or GlooTransport(session.rendezvous, rank=session.rank, world_size=session.members)
        )
        crypten.cfg.mpc.protocol = settings.protocol
        crypten.cfg.mpc.provider = settings.provider if settings.protocol == "beaver" else "TFP"
        crypten.cfg.communicator.verbose = True
        if settings.protocol == "replicated":
            replicated.install()
        else:
            replicated.uninstall()
        dealer = session.members if settings.has_dealer else None
        with _group_timeouts(timedelta(seconds=settings.timeout_s), dealer):
            yield

    def run(self, spec: RoundSpec, inputs: MemberInputs) -> RoundOutcome:
        """Open this member's inputs if sealed, then run the committee program."""
        if self.session is None:
            raise RuntimeError("run() before join()")
        if not isinstance(inputs, SealedInputs):
            return aggregate(spec, inputs)
        self.seen.enter_round(spec.round_id)
        started, cpu_started = time.perf_counter(), time.process_time()
        shares = self.open(spec, inputs)
        opened = (("open", time.perf_counter() - started),)
        cpu_open = time.process_time() - cpu_started
        outcome = aggregate(spec, shares)
        return dataclasses.replace(
            outcome,
            phase_seconds=opened + outcome.phase_seconds,
            cpu_seconds=cpu_open + outcome.cpu_seconds,
        )

    def open(self, spec: RoundSpec, inputs: SealedInputs) -> list[npt.NDArray[np.int64]]:
        """Check and decrypt this member's envelopes (raises ``ProtocolError``)."""
        assert self.session is not None
        key = X25519PrivateKey.from_private_bytes(inputs.member_key)
        slots = zip(inputs.sealed, inputs.contributors, strict=True)
        claims = [f"{s.contributor_id!r} as {c!r}" for s, c in slots if s.contributor_id != c]
        if claims:
            raise ProtocolError(
                f"slot-mismatch: envelopes that claim another contributor: {claims}"
            )
        return [
            open_share(
                sealed,
                member_key=key,
                contributor_key=Ed25519PublicKey.from_public_bytes(pub),
                round_id=spec.round_id,
                model_hash=inputs.model_hash,
                member_index=self.session.rank,
                dim=spec.dim,
                seen=self.seen,
            )
            for sealed, pub in zip(inputs.sealed, inputs.contributor_keys, strict=True)
        ]

    def leave(self) -> None:
        """Leave the session; after a broken session, tear down whatever is left."""
        import torch.distributed as dist
        from crypten.communicator import DistributedCommunicator

        self.session = None
        try:
            if self._crypten.communicator.is_initialized():
                self._crypten.uninit()
        except Exception as err:  # the session is broken: force the teardown below
            log.info("uninit of a broken session: %s", err)
        with contextlib.suppress(Exception):
            if dist.is_initialized():
                dist.destroy_process_group()
        DistributedCommunicator.instance = None
        # CrypTen keeps its TTP client across sessions; the next session needs fresh seeds.
        from crypten.mpc.provider.ttp_provider import TTPClient

        TTPClient.uninit()


Command = tuple[Any, ...]


def party_main(conn: Any, replay_registry: str | None = None) -> None:
    """Entry point of a party process: serve :class:`Command` tuples until ``("exit",)``.

    The first message is ``("ready", pid)``, once torch and CrypTen are imported (several
    seconds on a busy machine): callers wait for it before starting a session's deadlines.
    Commands: ``("join", Session)``; ``("dealer", Session)`` (serve as TTP until the
    session ends, then reply); ``("stage", RoundSpec, MemberInputs)``; ``("run",)`` (the
    staged round) or ``("run", RoundSpec, MemberInputs)``; ``("leave",)``; ``("exit",)``.
    """
    set_torch_threads(1)
    load_crypten()
    party = CommitteeParty(replay_registry)
    conn.send((READY, os.getpid()))  # torch and CrypTen are imported: deadlines may start
    staged: tuple[RoundSpec, MemberInputs] | None = None
    while True:
        try:
            command = conn.recv()
        except (EOFError, OSError):
            return
        op = command[0]
        if op == "exit":
            party.leave()
            conn.send(("ok", None))
            return
        try:
            if op == "join":
                party.join(command[1])
                reply: Any = None
            elif op == "dealer":
                party.serve_dealer(command[1])
                reply = None
            elif op == "stage":
                staged = (command[1], command[2])
                reply = None
            elif op == "run":
                spec, inputs = staged if len(command) == 1 and staged else command[1:3]
                staged = None
                reply = party.run(spec, inputs)
            elif op == "leave":
                party.leave()
                reply = None
            else:
                raise ValueError(f"unknown party command {op!r}")
        except Exception as err:
            party.leave()
            conn.send(("error", f"{type(err).__name__}: {err}"))
            continue
        conn.send(("ok", reply))
