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
import functools
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from committees.transport.install import install_transport
from committees.transport.settings import GlooTransport, TlsTransport
from mpcrec.crypten_compat import load_crypten, set_torch_threads
from mpcrec.crypto.envelope import NonceRegistry, SealedShare, open_share
from mpcrec.errors import ConfigError, RoundAborted
from mpcrec.secure import replicated
from mpcrec.secure.program import RoundOutcome, RoundSpec, aggregate

log = logging.getLogger(__name__)

PROTOCOLS = ("replicated", "beaver")
DEALER_IDLE = timedelta(hours=24)


@dataclass(frozen=True)
class SessionSettings:
    """How a committee computes: CrypTen protocol and source of correlated randomness.

    Parameters
    ----------
    protocol:
        ``"replicated"`` (exactly 3 members, no dealer) or ``"beaver"`` (a dealer).
    provider:
        ``"TTP"`` (a dealer process that is not a member) or ``"TFP"`` (member 0 deals:
        it can then learn everything; refused unless ``unsafe_allow_tfp``). Ignored, and
        reported as ``"none"``, with ``replicated``.
    unsafe_allow_tfp:
        Tests only.
    timeout_s:
        Bound on any single step (joining, one message).
    """

    protocol: str = "replicated"
    provider: str = "TTP"
    unsafe_allow_tfp: bool = False
    timeout_s: float = 60.0

    def check(self, members: int) -> None:
        """Raise :class:`ConfigError` for an unsupported or unsafe combination."""
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"unknown MPC protocol {self.protocol!r}", hint=f"use {PROTOCOLS}")
        if self.protocol == "replicated" and members != 3:
            raise ConfigError(f"protocol 'replicated' needs exactly 3 members, got {members}")
        if self.protocol == "beaver" and self.provider not in ("TTP", "TFP"):
            raise ConfigError(f"unknown provider {self.provider!r}", hint="use 'TTP'")
        if self.protocol == "beaver" and self.provider == "TFP" and not self.unsafe_allow_tfp:
            raise ConfigError(
                "provider TFP lets member 0 learn every contribution: refused",
                hint="use provider 'TTP' (a dealer outside the committee) or protocol "
                "'replicated'; TFP is for tests only (unsafe_allow_tfp=True)",
            )

    @property
    def has_dealer(self) -> bool:
        """Whether the session has an extra dealer rank (TTP)."""
        return self.protocol == "beaver" and self.provider == "TTP"


@dataclass(frozen=True)
class Session:
    """One CrypTen session: rendezvous, this party's rank, the committee size, settings.

    The dealer, when there is one, has rank ``members``. With ``transport`` (mutually
    authenticated TLS, :mod:`committees.transport.settings`) the parties connect to each
    other at the addresses it names and ``rendezvous`` is unused; without it they use gloo over
    ``rendezvous``, which must then be on loopback.
    """

    rendezvous: str
    rank: int
    members: int
    settings: SessionSettings
    transport: TlsTransport | None = None

    @property
    def is_dealer(self) -> bool:
        """Whether this party is the session's dealer."""
        return self.settings.has_dealer and self.rank == self.members


@dataclass(frozen=True)
class SealedInputs:
    """A member's sealed shares of a round, opened inside the member (timed with the round).

    ``member_key`` is the member's raw X25519 private key, ``contributor_keys`` the raw
    Ed25519 public keys in contribution order.
    """

    sealed: tuple[SealedShare, ...]
    member_key: bytes
    contributor_keys: tuple[bytes, ...]
    model_hash: bytes


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
        if isinstance(inputs, SealedInputs):
            self.seen.enter_round(spec.round_id)
        shares = self.open(spec, inputs) if isinstance(inputs, SealedInputs) else inputs
        return aggregate(spec, shares)

    def open(self, spec: RoundSpec, inputs: SealedInputs) -> list[npt.NDArray[np.int64]]:
        """Check and decrypt this member's envelopes (raises ``ProtocolError``)."""
        assert self.session is not None
        key = X25519PrivateKey.from_private_bytes(inputs.member_key)
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


#: The party process's first message: it has imported torch and CrypTen.
READY = "ready"
#: How long a new party process may take to import torch and CrypTen.
STARTUP_TIMEOUT_S = 180.0


def await_ready(conn: Any, name: str, timeout: float) -> bool:
    """Read a new party's ``ready`` message from ``conn``; :class:`RoundAborted` if the
    process dies or stays silent for ``timeout`` seconds. Returns ``True``."""
    if not conn.poll(timeout):
        raise RoundAborted(f"{name}: the party process did not start within {timeout:.0f}s")
    try:
        status, _ = conn.recv()
    except (EOFError, OSError) as err:
        raise RoundAborted(f"{name}: the party process died while starting") from err
    if status != READY:
        raise RoundAborted(f"{name}: the party process sent {status!r} before starting")
    return True


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
