"""The committee data plane's errors: each one aborts the round, and nothing is revealed."""

from __future__ import annotations

from committees.transport.settings import PeerAddress
from mpcrec.errors import RoundAborted


class TransportError(RoundAborted, RuntimeError):
    """The committee's data plane failed: the round aborts, nothing is revealed.

    A :class:`RuntimeError` too, as torch.distributed's errors are, so code that handles a
    gloo failure (CrypTen's TTP server loop among it) handles this one the same way.
    """


class PeerRefused(TransportError):
    """A peer presented the wrong certificate, or refused ours."""


class PeerTimeout(TransportError):
    """A peer did not connect, or sent nothing, within its deadline."""


class PeerLost(TransportError):
    """A peer's connection dropped mid-round."""


def peer_name(peer: PeerAddress) -> str:
    """How errors name a peer: its rank and the instance holding it."""
    return f"rank {peer.rank} ({peer.instance_id})"
