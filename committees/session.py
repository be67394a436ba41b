"""What a committee session is, without torch or CrypTen: the settings, the session a party
joins, a member's sealed inputs, and the party process's start-up handshake.

The node (:mod:`mpcrec.node.aggregation.secure`) builds these and hands them to its party
process (:mod:`committees.seat`, :mod:`committees.party`); keeping them here lets the node
daemon run without importing torch or CrypTen, which only the party process loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from committees.transport.settings import TlsTransport
from mpcrec.crypto.envelope import SealedShare
from mpcrec.errors import ConfigError, RoundAborted

PROTOCOLS = ("replicated", "beaver")


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
    Ed25519 public keys in contribution order, ``contributors`` the ids the envelopes came
    as (each must name its own: an envelope is verified under its slot's key only).
    """

    sealed: tuple[SealedShare, ...]
    member_key: bytes
    contributor_keys: tuple[bytes, ...]
    model_hash: bytes
    contributors: tuple[str, ...]


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
