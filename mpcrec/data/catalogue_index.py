"""A node's compact view of the catalogue: URL -> row, the UUIDs and the retired flags.

A node needs to map its users' videos onto rows and to know which rows are retired; it
needs no titles or tags in memory. The URLs live in one bytes buffer with offsets, looked
up through a sorted array of 64-bit hashes (a collision is resolved by comparing the
bytes), so a million rows take some 100 MB instead of the 300 MB of a ``dict`` of
``str`` (``mpcrec bench catalogue`` measures it).
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mpcrec.data.catalogue import (
    DIFF_DOMAIN,
    CatalogueDiff,
    CatalogueHeader,
    ChainTip,
    canonical,
    check_link,
)
from mpcrec.data.catalogue_store import CatalogueDir, version_file

Int64Array = npt.NDArray[np.int64]


def _key(url: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(url, digest_size=8).digest(), "little", signed=True)


class CatalogueIndex:
    """Rows by URL; every version applied is checked to extend the one before."""

    def __init__(self) -> None:
        self.tip = ChainTip()
        self._blob = bytearray()
        self._offsets: Int64Array = np.zeros(1, np.int64)
        self._uuids = bytearray()  # 36 ASCII bytes per row ("" padded with spaces)
        self._keys: Int64Array = np.zeros(0, np.int64)
        self._order: Int64Array = np.zeros(0, np.int64)
        self.retired: npt.NDArray[np.bool_] = np.zeros(0, np.bool_)

    @classmethod
    def replay(cls, diffs: Iterable[CatalogueDiff]) -> CatalogueIndex:
        """An index of every version in ``diffs`` (from version 1)."""
        index = cls()
        for diff in diffs:
            index.apply(diff)
        return index

    @classmethod
    def load(cls, directory: Path) -> CatalogueIndex:
        """An index of the versions in ``directory``, each file read as a stream (a node's
        memory then holds the index, never a whole version)."""
        index = cls()
        files = CatalogueDir(directory)
        for version in range(1, files.latest() + 1):
            with open(version_file(files.directory, version), "rb") as handle:
                header = CatalogueHeader.from_json(json.loads(handle.readline()))
                index.append(header, handle)
        return index

    def __len__(self) -> int:
        return self.tip.rows

    def apply(self, diff: CatalogueDiff) -> None:
        """Append one version (refused unless it extends the tip)."""
        self.append(diff.header, diff.lines)

    def append(self, header: CatalogueHeader, lines: Iterable[bytes]) -> None:
        """Append the version of ``header`` whose rows are ``lines``: parsed and hashed in
        one pass, kept only if it extends the tip (:func:`check_link`)."""
        digest = hashlib.sha256(DIFF_DOMAIN)
        ends, keys = array("q"), array("q")  # 8 bytes an entry, not a Python int each
        blob_at, uuid_at = len(self._blob), len(self._uuids)
        try:
            for line in lines:
                digest.update(line)
                url, uuid_ = json.loads(line)[:2]
                raw = url.encode()
                self._blob += raw
                ends.append(len(self._blob))
                keys.append(_key(raw))
                self._uuids += uuid_.encode()[:36].ljust(36)
            digest.update(b"retired:" + canonical(sorted(header.new_retired)))
            retired = self.retired.tolist() if header.new_retired else []
            self.tip = check_link(self.tip, header, len(ends), digest.digest(), retired)
        except BaseException:  # nothing of a version that does not extend the tip is kept
            del self._blob[blob_at:], self._uuids[uuid_at:]
            raise
        self._offsets = np.concatenate([self._offsets, np.frombuffer(ends, np.int64)])
        in_rows = self._keys[np.argsort(self._order)]
        all_keys = np.concatenate([in_rows, np.frombuffer(keys, np.int64)])
        self._order = np.argsort(all_keys, kind="stable").astype(np.int64)
        self._keys = all_keys[self._order]
        self.retired = np.concatenate([self.retired, np.zeros(len(ends), np.bool_)])
        self.retired[list(header.new_retired)] = True

    def url(self, row: int) -> str:
        """The URL of ``row``."""
        return self._blob[self._offsets[row] : self._offsets[row + 1]].decode()

    def uuid(self, row: int) -> str:
        """The UUID of ``row`` (``""`` for a URL-only row)."""
        return self._uuids[36 * row : 36 * row + 36].decode().strip()

    def row(self, url: str) -> int | None:
        """The row of ``url``, ``None`` when the catalogue lacks it."""
        raw = url.encode()
        key = _key(raw)
        at = int(np.searchsorted(self._keys, key))
        while at < len(self._keys) and self._keys[at] == key:
            row = int(self._order[at])
            if self._blob[self._offsets[row] : self._offsets[row + 1]] == raw:
                return row
            at += 1
        return None

    def urls(self) -> tuple[str, ...]:
        """Every URL in row order (a copy: for small catalogues and the trainer)."""
        return tuple(self.url(k) for k in range(len(self)))
