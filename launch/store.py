"""What the launcher keeps: the registry, rounds, seed commitments, contributions, results, models.

:class:`LauncherStore` is the interface; :class:`launch.sqlite_store.SQLiteStore` (the
embedded default, restart-safe) and :class:`launch.memory_store.InMemoryStore` (tests)
implement it, and one contract test runs against both. Every method that changes state is
one transaction: a launcher killed at any instant leaves either the whole change or none
of it. Publishing a round and storing its model are one change.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from launch.round import Round
from mpcrec.federation.contribution import Contribution
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.refusals import StoreConflict
from mpcrec.federation.result import MemberResult

__all__ = [
    "Contribution",
    "Instance",
    "LauncherStore",
    "MemberResult",
    "PublishedModel",
    "StoreConflict",
]


@dataclass(frozen=True)
class Instance:
    """A registered instance: its id (its certificate's common name) and public keys, with
    the TLS certificate (DER) and key binding that vouch for them (``b""``: unbound, which
    every node refuses to use)."""

    instance_id: str
    signing_key: bytes
    sealing_key: bytes
    mpc_address: str
    registered_at: float
    certificate: bytes = field(default=b"", repr=False)
    key_binding: bytes = field(default=b"", repr=False)

    def delivering(self, weight: float, envelope: bytes) -> tuple[Any, ...]:
        """The fields of :class:`~mpcrec.federation.contribution.Envelope` for ``envelope``
        from this instance: its id, ``weight``, its keys, certificate and key binding."""
        i = self
        return (
            i.instance_id,
            weight,
            i.signing_key,
            envelope,
            i.sealing_key,
            i.certificate,
            i.key_binding,
        )


class LauncherStore(Protocol):
    """Persistent state of a launcher. Implementations must be thread-safe."""

    def put_instance(self, instance: Instance) -> None:
        """Insert or replace an instance's registration."""

    def get_instance(self, instance_id: str) -> Instance | None:
        """The instance's registration, if any."""

    def instances(self) -> list[Instance]:
        """Every registered instance, sorted by id."""

    def save_round(self, rnd: Round) -> None:
        """Insert or replace a round's record (not for publishing: see :meth:`publish`)."""

    def get_round(self, round_id: int) -> Round | None:
        """A round's record, if any."""

    def latest_round(self) -> Round | None:
        """The round with the highest id, if any."""

    def committees(self, before: int, count: int) -> list[tuple[str, ...]]:
        """The committees of the ``count`` rounds before round ``before`` (newest first)."""

    def add_commit(self, round_id: int, instance_id: str, commitment: bytes) -> None:
        """Store a seed commitment; :class:`StoreConflict` if one exists."""

    def commits(self, round_id: int) -> dict[str, bytes]:
        """Commitments of a round by instance id."""

    def commitment(self, round_id: int, instance_id: str) -> bytes | None:
        """One instance's commitment in a round (``None``: it sent none)."""

    def tally(self, round_id: int) -> tuple[int, int, int]:
        """How many commitments, reveals and contributions a round has (cheap: the
        scheduler asks after every change)."""

    def add_reveal(self, round_id: int, instance_id: str, secret: bytes) -> None:
        """Store a seed reveal; :class:`StoreConflict` if one exists."""

    def reveals(self, round_id: int) -> dict[str, bytes]:
        """Reveals of a round by instance id."""

    def add_contribution(self, contribution: Contribution) -> None:
        """Store an upload; :class:`StoreConflict` on a second upload or a replayed digest."""

    def contributions(self, round_id: int) -> dict[str, float]:
        """Weights of a round's contributions by contributor id."""

    def upload_bytes(self, round_id: int) -> int:
        """Bytes uploaded to a round so far."""

    def digests(self, round_id: int) -> dict[str, bytes]:
        """Digests of a round's contributions by contributor id."""

    def transaction(self) -> AbstractContextManager[None]:
        """Group several changes (and audit entries) into one transaction."""

    def envelopes_for(self, round_id: int, member: str) -> list[tuple[str, float, bytes]]:
        """``(contributor, weight, envelope)`` addressed to ``member``, by contributor id."""

    def add_result(self, result: MemberResult) -> None:
        """Store a member's result; :class:`StoreConflict` if it sent one already."""

    def results(self, round_id: int) -> dict[str, MemberResult]:
        """A round's member results by member id."""

    def put_model(self, model: PublishedModel) -> None:
        """Store a model version (the initial model); :class:`StoreConflict` if it exists."""

    def publish(self, rnd: Round, model: PublishedModel) -> None:
        """Save the published round and its model in one transaction."""

    def get_model(self, version: int) -> PublishedModel | None:
        """A model version, if stored."""

    def latest_model(self) -> PublishedModel | None:
        """The highest model version, if any."""

    def close(self) -> None:
        """Release the store's resources."""


def check_publishable(rnd: Round, model: PublishedModel) -> None:
    """Raise unless ``model`` is the one ``rnd`` publishes (shared by every store)."""
    if rnd.published_version != model.version or model.version != rnd.model_version + 1:
        raise StoreConflict(
            f"round {rnd.round_id} (from v{rnd.model_version}, publishing "
            f"v{rnd.published_version}) cannot publish model v{model.version}"
        )


def committee_rows(rounds: Sequence[Round], before: int, count: int) -> list[tuple[str, ...]]:
    """The committees of the ``count`` rounds just before ``before``, newest first."""
    picked = [r for r in rounds if before - count <= r.round_id < before]
    return [r.committee for r in sorted(picked, key=lambda r: -r.round_id) if r.committee]
