"""The audit-log entries this node signed and the launcher accepted, until each is proven in
the log.

A node signs four kinds of entry (:mod:`mpcrec.audit.entries`): its registration (logged the
first time only), a seed commitment per round it takes part in, a contribution, and, as a
member, the round's result. :class:`WitnessingClient` wraps the node's
:class:`~mpcrec.federation.launcher_client.LauncherClient`: every call the launcher accepts,
it rebuilds the entry the node signed from the call's own arguments (the round's
announcement, which the daemon hands in with :meth:`OwnEntries.announced`, and the
federation's spec fill in what the call does not carry) and keeps it in
:class:`OwnEntries` (``state_dir/own_entries.jsonl``, so a restart keeps what is still to
prove). At the end of each round :mod:`mpcrec.node.log_watch` asks the launcher where each
one sits and checks its inclusion proof against a signed head.

The entries rebuilt here must be the ones :mod:`mpcrec.node.messages` signs:
``tests/node/test_log_watch.py`` checks each kind verifies under the node's key.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mpcrec.audit import entries
from mpcrec.audit.entries import Kind, LogEntry, TreeHead, canonical_json
from mpcrec.errors import DataError
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.contribution import Contribution, Envelope, UploadReceipt
from mpcrec.federation.launcher_client import LauncherClient
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.registration import Registered, Registration
from mpcrec.federation.result import MemberResult, result_entry
from mpcrec.federation.round_params import RoundParams
from mpcrec.files import write_atomic

log = logging.getLogger("mpcrec.node")

OWN_ENTRIES_FILE = "own_entries.jsonl"


class OwnEntries:
    """Entries this node signed that the launcher accepted, with whether each is proven.

    The registration stays (proven or not: the log holds the first one only); other entries
    are dropped once proven.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / OWN_ENTRIES_FILE
        self._lock = threading.Lock()
        self._entries: list[tuple[LogEntry, bool]] = []
        self.rounds: dict[int, RoundAnnouncement] = {}  # the latest announcements seen
        self.params: RoundParams | None = None  # the round parameters registered under
        if self.path.is_file():
            for number, line in enumerate(self.path.read_text("utf-8").splitlines(), start=1):
                if line.strip():
                    self._entries.append(self._parse(line, number))

    def _parse(self, line: str, number: int) -> tuple[LogEntry, bool]:
        where = f"{self.path} line {number}"
        try:
            data = json.loads(line)
            return LogEntry.from_json(data["entry"], where=where), bool(data["proven"])
        except (ValueError, KeyError, TypeError):
            raise DataError(f"{where}: not an own entry", hint="restore it or remove it") from None

    def _save(self) -> None:
        lines = b"".join(
            canonical_json({"entry": e.to_json(), "proven": p}) + b"\n" for e, p in self._entries
        )
        write_atomic(self.path, lines, hint="give the node a writable state directory")

    def announced(self, ann: RoundAnnouncement) -> None:
        """Remember ``ann`` (what a contribution or a result entry names of its round)."""
        with self._lock:
            self.rounds = {r: a for r, a in self.rounds.items() if r >= ann.round_id - 1}
            self.rounds[ann.round_id] = ann

    def signed(self, entry: LogEntry) -> None:
        """Keep ``entry`` (accepted by the launcher) to prove; a second registration is not
        kept (the launcher logs the first only)."""
        with self._lock:
            if entry.kind == Kind.REGISTER and any(
                e.kind == Kind.REGISTER for e, _ in self._entries
            ):
                return
            if any(e.signature == entry.signature for e, _ in self._entries):
                return
            self._entries.append((entry, False))
            self._save()

    def to_prove(self, up_to_round: int) -> list[LogEntry]:
        """Unproven entries of rounds up to ``up_to_round`` (and the registration)."""
        with self._lock:
            return [
                e
                for e, proven in self._entries
                if not proven and (e.round is None or e.round <= up_to_round)
            ]

    def proven(self, entry: LogEntry) -> None:
        """Mark ``entry`` proven (a registration is kept, anything else dropped)."""
        with self._lock:
            kept = [(e, p) for e, p in self._entries if e.signature != entry.signature]
            if entry.kind == Kind.REGISTER:
                kept.insert(0, (entry, True))
            self._entries = kept
            self._save()


class WitnessingClient:
    """A :class:`~mpcrec.federation.launcher_client.LauncherClient` that keeps, in ``own``,
    every entry the node signed and the launcher accepted (see the module docstring)."""

    def __init__(
        self, client: LauncherClient, own: OwnEntries, instance_id: str, signing_key: bytes
    ) -> None:
        self.client = client
        self.own = own
        self.me = instance_id
        self._key = Ed25519PublicKey.from_public_bytes(signing_key)

    def _keep(self, entry: LogEntry) -> None:
        if entry.verify(self._key):
            self.own.signed(entry)
        else:  # a message format this module does not rebuild: say so loudly
            log.error("%s: cannot rebuild the %s entry it signed", entry.author, entry.kind)

    def register(self, registration: Registration) -> Registered:
        registered = self.client.register(registration)
        self.own.params = registered.params
        self._keep(_signed(registration.entry(), registration.entry_signature))
        return registered

    def current_round(self) -> RoundAnnouncement | None:
        return self.client.current_round()

    def watch_rounds(self, after_round: int = 0) -> Iterator[RoundAnnouncement]:
        return self.client.watch_rounds(after_round)

    def commit(self, round_id: int, commitment: bytes, signature: bytes) -> None:
        self.client.commit(round_id, commitment, signature)
        entry = entries.seed_commit(instance_id=self.me, round_id=round_id, commitment=commitment)
        self._keep(_signed(entry, signature))

    def reveal(self, round_id: int, secret: bytes) -> None:
        self.client.reveal(round_id, secret)

    def upload_contribution(self, contribution: Contribution, signature: bytes) -> UploadReceipt:
        receipt = self.client.upload_contribution(contribution, signature)
        ann = self.own.rounds.get(contribution.round_id)
        version = ann.model_version if ann is not None else -1
        entry = entries.contribution(
            round_id=contribution.round_id,
            instance_id=self.me,
            model_version=version,
            digest=contribution.digest,
            size=contribution.size,
            weight=contribution.weight,
            params_hash=contribution.params_hash,
        )
        self._keep(_signed(entry, signature))
        return receipt

    def fetch_shares(self, round_id: int) -> list[Envelope]:
        return self.client.fetch_shares(round_id)

    def submit_result(self, result: MemberResult) -> None:
        self.client.submit_result(result)
        ann = self.own.rounds.get(result.round_id)
        params = self.own.params
        if not result.ok or ann is None or params is None:
            return
        entry = result_entry(
            member=self.me,
            round_id=result.round_id,
            new_version=ann.model_version + 1,
            model_hash=result.model_hash,
            digests=ann.digest_of(),
            accepted=result.accepted,
            params=params,
            weights=dict(zip(ann.contributors, result.weights, strict=False)),
            slice_hash=result.slice_hash,
        )
        self._keep(_signed(entry, result.signature))

    def get_model(self, version: int) -> PublishedModel:
        return self.client.get_model(version)

    def tree_head(self, known_size: int) -> tuple[TreeHead, list[bytes]]:
        return self.client.tree_head(known_size)

    def inclusion_proof(self, entry_signature: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        return self.client.inclusion_proof(entry_signature, tree_size)

    def log_proofs(
        self, known_size: int, signatures: list[bytes]
    ) -> tuple[TreeHead, list[bytes], list[tuple[int, list[bytes]]]]:
        return self.client.log_proofs(known_size, signatures)

    def close(self) -> None:
        self.client.close()


def _signed(entry: LogEntry, signature: bytes) -> LogEntry:
    return LogEntry(entry.kind, entry.round, entry.author, entry.payload, signature)


def witnessed(
    client: LauncherClient, own: OwnEntries, instance_id: str, signing_key: bytes
) -> LauncherClient:
    """``client`` keeping what the node signs in ``own`` (wrapped once)."""
    if isinstance(client, WitnessingClient):
        return client
    return WitnessingClient(client, own, instance_id, signing_key)
