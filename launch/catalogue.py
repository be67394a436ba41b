"""The launcher's catalogue: the instances' exports in, signed versions out.

Instances send their exports (:mod:`launch.catalogue_service`); when the next round opens
(:meth:`LauncherCatalogue.publish`, called by the launcher in that round's transaction) the
pending exports are merged (:meth:`mpcrec.data.catalogue_merge.CatalogueBook.merge`, a pure
function anyone can recompute), the new version is written to ``state_dir/catalogue/`` and
its header is signed in the audit log (entry kind ``catalogue``, in force from that round)
before the round's ``round_open`` entry, which names it. The signed entries are read back
from the log on start, and a version file the log does not hold (the launcher stopped
between writing it and committing its entry) is set aside: a version exists once signed.

An instance's export replaces its previous one; exports are kept in memory only (a node
sends its export again after it registers, so a restarted launcher gets them back).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from launch.round import Phase, Round
from mpcrec.audit.catalogue_entry import catalogue_version
from mpcrec.audit.entries import Kind, LogEntry
from mpcrec.audit.log import AuditLog
from mpcrec.data.catalogue import CatalogueHeader, VideoRecord, encode_diff
from mpcrec.data.catalogue_merge import CatalogueBook, InstanceExport
from mpcrec.data.catalogue_store import CatalogueDir, version_file
from mpcrec.errors import ProtocolError
from mpcrec.federation.grown_model import round_rows

log = logging.getLogger("mpcrec.launcher.catalogue")


class LauncherCatalogue:
    """The versions published so far, their signed entries, and the exports pending.

    Parameters
    ----------
    directory:
        Where the version files live (``state_dir/catalogue``).
    audit:
        The launcher's audit log (it signs each version); ``None`` in tests without a log:
        the entries are then kept unsigned, in memory.
    """

    def __init__(self, directory: Path, audit: AuditLog | None) -> None:
        self.files = CatalogueDir(directory)
        self.audit = audit
        self._lock = threading.RLock()
        self._entries: list[LogEntry] = []
        if audit is not None:
            self._entries = [e for e in audit.entries() if e.kind == Kind.CATALOGUE]
        self._set_aside_unsigned()
        self.book = CatalogueBook.replay(self.files.diffs())
        for entry in self._entries:
            held = self.files.read(int(entry.payload["version"])).header.log_payload()
            if held != entry.payload:
                raise ProtocolError(
                    f"{self.files.directory}: version {held['version']} differs from its "
                    "signed log entry",
                    hint="restore the catalogue directory that belongs to this state directory",
                )
        self.pending: dict[str, InstanceExport] = {}

    def _set_aside_unsigned(self) -> None:
        if self.audit is None:
            return
        for version in range(len(self._entries) + 1, self.files.latest() + 1)[::-1]:
            path = version_file(self.files.directory, version)
            path.rename(path.with_suffix(".unsigned"))
            log.warning("catalogue version %d was never signed: set aside as %s", version, path)

    def submit(self, export: InstanceExport) -> int:
        """Keep ``export`` for the next merge (replacing the instance's previous one)."""
        with self._lock:
            self.pending[export.instance] = export.checked()
            return self.book.tip.version

    def publish(self, from_round: int) -> CatalogueHeader | None:
        """Merge the pending exports into the next version, store it and sign it in the
        log, in force from ``from_round``; ``None`` when nothing changed."""
        with self._lock:
            diff = self.book.merge(list(self.pending.values()))
            self.pending.clear()
            if diff is None:
                return None
            self.files.append(diff, self.book.tip)
            self.book.apply(diff)
            entry = catalogue_version(from_round=from_round, header=diff.header)
            if self.audit is not None:
                index = self.audit.append(entry)
                entry = next(self.audit.entries(index, index + 1))
            self._entries.append(entry)
            log.info(
                "catalogue version %d: %d rows (%d retired)",
                diff.header.version,
                diff.header.rows,
                diff.header.retired,
            )
            return diff.header

    def in_force(self, round_id: int) -> dict[str, int | bytes] | None:
        """The version a round uses (the latest signed for it or before): version, hash, rows."""
        with self._lock:
            usable = [e for e in self._entries if e.round is not None and e.round <= round_id]
            if not usable:
                return None
            p = usable[-1].payload
            return {"version": p["version"], "hash": bytes.fromhex(p["hash"]), "rows": p["rows"]}

    def retired(self) -> list[bool]:
        """The retired flag of every row of the latest version."""
        with self._lock:
            return [bool(flag) for flag in self.book.retired]

    def records(self) -> list[VideoRecord]:
        """Every row of the signed versions (public metadata), in row order."""
        with self._lock:
            return list(self.book.records)

    def since(self, version: int) -> Iterator[tuple[int, bytes, bytes]]:
        """``(version, file bytes, signed entry JSON)`` of every version after ``version``."""
        with self._lock:
            entries = list(self._entries[version:])
        for entry in entries:
            number = int(entry.payload["version"])
            data = encode_diff(self.files.read(number))
            yield number, data, json.dumps(entry.to_json()).encode()


def opening_catalogue(
    catalogue: LauncherCatalogue | None, rnd: Round, model_rows: int
) -> dict[str, int] | None:
    """When ``rnd`` opens: publish the pending exports as a new version (signed before the
    round's ``round_open``) and return what its ``round_open`` names (``catalogue_version``,
    and ``rows``: the round's model rows, the version's: the model grows with the
    catalogue, :mod:`launch.grown_round`); ``None`` for any other transition, or with
    no catalogue version yet."""
    if catalogue is None or rnd.phase is not Phase.OPEN:
        return None
    catalogue.publish(rnd.round_id)
    found = catalogue.in_force(rnd.round_id)
    if found is None:
        return None
    rows = round_rows(model_rows, int(found["rows"]))
    return {"catalogue_version": int(found["version"]), "rows": rows}


def catalogue_fields(found: dict[str, int | bytes] | None) -> dict[str, Any]:
    """The announcement's catalogue fields for :meth:`LauncherCatalogue.in_force`'s answer."""
    if found is None:
        return {}
    return {
        "catalogue_version": found["version"],
        "catalogue_hash": found["hash"],
        "catalogue_rows": found["rows"],
    }
