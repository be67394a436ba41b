"""What an aggregation is: the interface both kinds implement, and the node's seat."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.pki import CertPaths
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.published_model import PublishedModel
from mpcrec.node.aggregation.dpals_step import ItemFeatures
from mpcrec.node.aggregation.step import Matrix


@dataclass(frozen=True)
class Seat:
    """Who this node is on committees: its id, keys, certificates and MPC time bound."""

    instance_id: str
    keys: NodeKeys
    tls: CertPaths
    mpc_timeout_s: float
    min_contributors: int = 1
    replay_registry: str | None = None  # where a member keeps the nonces it accepted
    warm_seat: bool = False  # keep the committee party running between draws (node.yaml)
    item_features: ItemFeatures | None = None  # the trainer's public item metadata (dpals)


class Aggregation(Protocol):
    """One kind of aggregation (see the module docstring)."""

    def seal(
        self, update: Matrix, ann: RoundAnnouncement, *, weight: float, params_hash: bytes
    ) -> list[bytes]:
        """One envelope of ``update`` per committee member, in rank order, each declaring the
        contributor's ``weight`` and the round parameters' digest."""

    def signed_terms(self, envelope: Envelope) -> tuple[float, bytes]:
        """``(weight, params_hash)`` the envelope's author declared (signed, for ``secure``);
        :class:`~mpcrec.errors.ProtocolError` when it cannot be read or verified."""

    def compute(
        self,
        ann: RoundAnnouncement,
        envelopes: Sequence[Envelope],
        base: PublishedModel,
        previous: Matrix | None,
    ) -> tuple[Matrix, tuple[str, ...]]:
        """A member's work: the next model from ``base`` (``previous``: the model before
        it, for momentum) and the accepted contributors; :class:`~mpcrec.errors.RoundAborted`
        or :class:`~mpcrec.errors.ProtocolError` when the round fails."""

    def deal(self, ann: RoundAnnouncement) -> None:
        """Serve as the round's dealer until the members end the session."""

    def prepare(self, ann: RoundAnnouncement) -> None:
        """This node was drawn into ``ann``'s committee (or as its dealer): get ready to
        serve (``secure``: start the committee party, without waiting for it)."""

    def release(self) -> None:
        """The round ended: stop what serving started unless it is kept warm."""

    def close(self) -> None:
        """Release what serving started (the committee party)."""
