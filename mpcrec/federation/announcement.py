"""What the launcher announces about the current round, as every instance sees it.

:class:`Phase` names the states of a round (the state machine itself is
:class:`launch.round.Round`); a :class:`RoundAnnouncement` is the public record of a round
with the committee's (and the dealer's) public keys and addresses, as the launcher streams it
(:rpc:`WatchRounds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from mpcrec.federation.round_params import RoundParams


class Phase(StrEnum):
    """The states of a round."""

    OPEN = "open"
    REVEALING = "revealing"
    COMMITTEE_DRAWN = "committee_drawn"
    COLLECTING = "collecting"
    COMPUTING = "computing"
    PUBLISHED = "published"
    ABORTED = "aborted"

    @property
    def terminal(self) -> bool:
        """Whether the round has ended (published or aborted)."""
        return self in (Phase.PUBLISHED, Phase.ABORTED)


@dataclass(frozen=True)
class Member:
    """A seat of a round: a committee member (rank ``0..k-1``) or the dealer (rank ``k``),
    with the certificate (DER) and key binding that vouch for its keys."""

    instance_id: str
    rank: int
    sealing_key: bytes = b""
    signing_key: bytes = b""
    mpc_address: str = ""
    certificate: bytes = field(default=b"", repr=False)
    key_binding: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class RoundAnnouncement:
    """A round as the launcher announces it (see :class:`launch.round.Round` for the fields).

    ``model_hash`` is the SHA-256 of the base model's bytes; ``digests`` the digest of each
    frozen contribution, in the order of ``contributors``; ``beacon_round`` the beacon
    round bound to the round when it opened (``0``: none), due at ``beacon_at``;
    ``params`` the round parameters of the config entry in force and ``params_hash`` their
    digest (what contributors and members sign); ``catalogue_version``, ``catalogue_hash``
    and ``catalogue_rows`` the catalogue version the round's model rows are (``0``: none;
    docs/catalogue.md).
    """

    round_id: int
    model_version: int
    phase: Phase
    deadline: float = 0.0
    participants: tuple[str, ...] = ()
    committee: tuple[Member, ...] = ()
    dealer: Member | None = None
    seed: bytes = b""
    contributors: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    reason: str = ""
    published_version: int = -1
    model_hash: bytes = b""
    digests: tuple[bytes, ...] = ()
    beacon_round: int = 0
    beacon_at: float = 0.0
    params: RoundParams | None = None
    params_hash: bytes = b""
    catalogue_version: int = 0
    catalogue_hash: bytes = b""
    catalogue_rows: int = 0

    @property
    def members(self) -> tuple[str, ...]:
        """The committee's instance ids in rank order."""
        return tuple(m.instance_id for m in self.committee)

    @property
    def dealer_id(self) -> str:
        """The dealer's instance id (``""`` when none was drawn)."""
        return self.dealer.instance_id if self.dealer is not None else ""

    @property
    def newest_model(self) -> int:
        """The newest published model version this announcement names."""
        return self.published_version if self.phase is Phase.PUBLISHED else self.model_version

    def digest_of(self) -> Mapping[str, bytes]:
        """Each frozen contribution's digest by contributor id."""
        return dict(zip(self.contributors, self.digests, strict=True))
