"""A node's copy of the federation's catalogue: fetched by diffs, verified, then trusted.

Before any step of a round whose announcement names a catalogue version
(``catalogue_version``, ``catalogue_hash``, ``catalogue_rows``), the node makes sure it holds
that version (:meth:`CatalogueSync.check`): it fetches every version after the one it holds
(``FetchCatalogue``), and keeps one only if

1. it extends the version held (:func:`mpcrec.data.catalogue.check_extends`: next number,
   previous hash, rows appended, hashes recomputed from the rows), and
2. its audit entry is the launcher's (signature under the key pinned at registration,
   :mod:`mpcrec.node.launcher_trust`), of kind ``catalogue``, with exactly this version's
   header as payload: the version is the one the launcher signed in its log, where every
   other node and the auditors see it.

Then the announced hash and row count must be that version's. Each verified entry is also
handed to :class:`~mpcrec.node.own_entries.OwnEntries`, so at the end of the round the
node checks its inclusion proof against the launcher's signed, fork-checked tree head
(:mod:`mpcrec.node.log_watch`): a version shown to this node but kept out of the log
everyone else sees is an ``inclusion`` refusal. Anything else is the refusal
``catalogue-unverified``: the node sends nothing for the round. Once a round named a
version, a later round that names none is refused too (the launcher cannot switch
verification off). Verified versions are kept in ``state_dir/catalogue/``; on start the
chain is checked again from version 1.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry
from mpcrec.data.catalogue import CatalogueHeader, VideoRecord
from mpcrec.data.catalogue_index import CatalogueIndex
from mpcrec.data.catalogue_merge import encode_export
from mpcrec.data.catalogue_store import CatalogueDir
from mpcrec.errors import UserError
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.model.content_initial import CatalogueContentRows
from mpcrec.node.round_refusal import RoundRefused

log = logging.getLogger("mpcrec.node.catalogue")
RULE = "catalogue-unverified"


class CatalogueSource(Protocol):
    """Where versions come from: the launcher's ``Catalogue`` service (or a test's)."""

    def fetch(self, since: int) -> Iterable[tuple[int, bytes, bytes]]:
        """``(version, file bytes, signed entry JSON)`` of every version after ``since``."""
        ...

    def submit(self, export: bytes) -> int:
        """Send this instance's export; the latest version published so far."""
        ...


def check_entry(raw: bytes, header: CatalogueHeader, launcher_key: bytes) -> LogEntry:
    """Check ``raw`` is the launcher's signed ``catalogue`` entry for ``header``.

    Raises
    ------
    RoundRefused
        ``catalogue-unverified``, saying what does not hold.
    """
    version = header.version
    try:
        entry = LogEntry.from_json(json.loads(raw), where=f"catalogue entry {version}")
    except (ValueError, UserError) as err:
        raise RoundRefused(RULE, f"version {version}: no readable log entry ({err})") from None
    key = Ed25519PublicKey.from_public_bytes(launcher_key)
    if entry.kind != Kind.CATALOGUE or entry.author != LAUNCHER or not entry.verify(key):
        raise RoundRefused(RULE, f"version {version}: its entry is not the launcher's signed one")
    if dict(entry.payload) != header.log_payload():
        raise RoundRefused(RULE, f"version {version}: the rows served are not the ones signed")
    return entry


def _lines(body: bytes) -> Iterator[bytes]:
    """The row lines of a version file's body, one at a time (no list of a million)."""
    start = 0
    while start < len(body):
        end = body.find(b"\n", start)
        end = len(body) if end < 0 else end + 1
        if end - start > 1:
            yield body[start:end]
        start = end


class CatalogueSync:
    """The verified versions under ``state_dir/catalogue`` and the index over them."""

    def __init__(
        self, state_dir: Path, on_verified: Callable[[LogEntry], None] = lambda _entry: None
    ) -> None:
        self.on_verified = on_verified
        self._sent = b""  # digest of the last export sent
        self.files = CatalogueDir(Path(state_dir) / "catalogue")
        self.index = CatalogueIndex.load(self.files.directory)
        headers = [self.files.header(v) for v in range(1, self.index.tip.version + 1)]
        self.hashes = {h.version: h.hash for h in headers}
        self.rows = {h.version: h.rows for h in headers}
        self.initial_rows = CatalogueContentRows(lambda: self)  # a new row: its content row

    def records(self) -> list[VideoRecord]:
        """Every row of the verified versions (their public metadata), in row order."""
        return [record for diff in self.files.diffs() for record in diff.records()]

    def send_export(
        self, trainer: object, instance: str, source: CatalogueSource, *, again: bool = False
    ) -> bool:
        """Send ``trainer``'s catalogue export (a trainer with ``catalogue_export``: the
        ``peertube`` one without ``catalogue.txt``) when it changed since the last one sent
        (or ``again``: after registering, a restarted launcher has none), merged when the
        next round opens;
        ``False`` if nothing was sent (no export, unchanged, or refused: logged, the next
        round's end tries again)."""
        export = getattr(trainer, "catalogue_export", None)
        if export is None:
            return False
        try:
            made = export(instance)
            if made is None:
                return False
            data = encode_export(made)
            digest = hashlib.sha256(data).digest()
            if digest == self._sent and not again:
                return False
            source.submit(data)
        except (UserError, OSError) as err:
            log.warning("%s: catalogue export not sent: %s", instance, err)
            return False
        self._sent = digest
        log.info("%s: catalogue export sent (%d bytes)", instance, len(data))
        return True

    def check(self, ann: RoundAnnouncement, source: CatalogueSource, launcher_key: bytes) -> None:
        """Refuse (``catalogue-unverified``) unless the round's catalogue version is held
        and verified (module docstring), fetching what is missing first."""
        wanted = ann.catalogue_version
        if wanted == 0:
            if self.hashes:
                raise RoundRefused(RULE, f"round {ann.round_id} names no catalogue version")
            return
        if wanted > self.index.tip.version:
            if not launcher_key:
                raise RoundRefused(RULE, "no pinned launcher key to check the catalogue with")
            self.fetch(source, launcher_key, until=wanted)
        if self.hashes.get(wanted) != ann.catalogue_hash or self.rows[wanted] != ann.catalogue_rows:
            raise RoundRefused(
                RULE,
                f"round {ann.round_id}: catalogue version {wanted} with {ann.catalogue_rows} rows "
                "is not the version this node verified",
            )

    def fetch(self, source: CatalogueSource, launcher_key: bytes, *, until: int) -> None:
        """Fetch, verify and keep the versions after the tip, up to ``until``."""
        for version, data, entry in source.fetch(self.index.tip.version):
            if version > until:
                break
            where = f"catalogue version {version}"
            try:
                head, _, body = data.partition(b"\n")
                header = CatalogueHeader.from_json(json.loads(head), where=where)
                signed = check_entry(entry, header, launcher_key)
                self.index.append(header, _lines(body))  # hashed and chained as it is parsed
            except RoundRefused:
                raise
            except (UserError, ValueError) as err:
                raise RoundRefused(RULE, f"{where}: {err}") from None
            self.files.store(version, data)  # verified: kept as served
            self.on_verified(signed)  # proven in the log at the round's end (log_watch)
            self.hashes[version], self.rows[version] = header.hash, header.rows
            log.info("catalogue version %d verified: %d rows", version, header.rows)
        if until > self.index.tip.version:
            raise RoundRefused(RULE, f"the launcher served no catalogue version {until}")
