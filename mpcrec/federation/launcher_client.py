"""What a node asks of its launcher, in plain dataclasses: the launcher-client interface.

Two implementations, one over the wire and one in process (as Flower's ``GrpcGrid`` and
``InMemoryGrid``): :class:`mpcrec.node.grpc_client.GrpcLauncherClient` (mutual TLS, chunked
streams) and :class:`launch.in_process.InProcessLauncherClient` (over a
:class:`~launch.launcher.Launcher` object, for tests). Every call speaks for the one instance
the client was made for (its certificate); refusals are the exceptions of
:mod:`mpcrec.federation.refusals` on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from mpcrec.audit.entries import TreeHead
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.contribution import Contribution, Envelope, UploadReceipt
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.registration import Registered, Registration
from mpcrec.federation.result import MemberResult


class LauncherClient(Protocol):
    """One instance's connection to the launcher."""

    def register(self, registration: Registration) -> Registered:
        """Register (or re-register after a restart, with the same keys)."""

    def current_round(self) -> RoundAnnouncement | None:
        """The current round as it stands now (``None`` before the first)."""

    def watch_rounds(self, after_round: int = 0) -> Iterator[RoundAnnouncement]:
        """Every change of the current round from ``after_round`` on, until :meth:`close`."""

    def commit(self, round_id: int, commitment: bytes, signature: bytes) -> None:
        """Send a seed commitment, signed over its audit-log entry."""

    def reveal(self, round_id: int, secret: bytes) -> None:
        """Reveal the secret committed to."""

    def upload_contribution(self, contribution: Contribution, signature: bytes) -> UploadReceipt:
        """Upload one envelope per committee member (in the committee's order), signed
        over the audit log's contribution entry."""

    def fetch_shares(self, round_id: int) -> list[Envelope]:
        """The envelopes addressed to this member in a computing round."""

    def submit_result(self, result: MemberResult) -> None:
        """Return this member's signed result (or its report that the round failed)."""

    def get_model(self, version: int) -> PublishedModel:
        """A published model (``-1``: the latest)."""

    def tree_head(self, known_size: int) -> tuple[TreeHead, list[bytes]]:
        """The audit log's latest signed tree head, with a consistency proof from the head
        of ``known_size`` entries (:class:`~mpcrec.federation.refusals.RoundStateError`
        while there is none)."""

    def inclusion_proof(self, entry_signature: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        """``(index, audit path)`` of the entry this instance signed with
        ``entry_signature``, in the tree of the first ``tree_size`` entries (the size of a
        signed head the caller holds); a refusal if that tree does not hold it."""

    def log_proofs(
        self, known_size: int, signatures: list[bytes]
    ) -> tuple[TreeHead, list[bytes], list[tuple[int, list[bytes]]]]:
        """:meth:`tree_head` and :meth:`inclusion_proof` of each of ``signatures`` (at most
        64) in that head's tree, in one call; ``NotImplementedError`` from a launcher
        without it (ask the two above instead)."""

    def close(self) -> None:
        """End any :meth:`watch_rounds` and release the connection (thread-safe)."""
