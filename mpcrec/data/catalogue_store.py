"""Catalogue versions on disk: one file per version, each written atomically.

A directory holds ``v00000001.jsonl``, ``v00000002.jsonl``, ... (:func:`encode_diff`'s
bytes). The launcher keeps every version it published in ``state_dir/catalogue/``; a node
keeps those it fetched and verified in its own ``state_dir/catalogue/``; ``mpcrec catalogue
export`` writes the same files. A file is written only once its version has been checked
to extend the one before (:meth:`CatalogueDir.append`), so the directory always holds one
unbroken chain from version 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from mpcrec.data.catalogue import (
    CatalogueDiff,
    CatalogueHeader,
    ChainTip,
    check_extends,
    decode_diff,
    encode_diff,
)
from mpcrec.errors import DataError
from mpcrec.files import write_atomic


def version_file(directory: Path, version: int) -> Path:
    """Where version ``version`` lives in ``directory``."""
    return Path(directory) / f"v{version:08d}.jsonl"


class CatalogueDir:
    """The catalogue versions in one directory, from 1 without gaps."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def latest(self) -> int:
        """The highest version held (0: none)."""
        if not self.directory.is_dir():
            return 0
        versions = sorted(int(p.stem[1:]) for p in self.directory.glob("v*.jsonl"))
        if versions != list(range(1, len(versions) + 1)):
            raise DataError(
                f"{self.directory}: catalogue versions {versions[:5]}... have a gap",
                hint="fetch the catalogue again from version 1 (move this directory away)",
            )
        return len(versions)

    def read(self, version: int) -> CatalogueDiff:
        """Version ``version`` (unverified: see :meth:`diffs`)."""
        path = version_file(self.directory, version)
        try:
            return decode_diff(path.read_bytes(), where=str(path))
        except OSError as err:
            raise DataError(f"cannot read {path}: {err.strerror or err}") from None

    def header(self, version: int) -> CatalogueHeader:
        """Version ``version``'s header line only (unverified)."""
        path = version_file(self.directory, version)
        try:
            with open(path, "rb") as handle:
                return CatalogueHeader.from_json(json.loads(handle.readline()), where=str(path))
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read the header of {path}: {err}") from None

    def raw(self, version: int) -> bytes:
        """The bytes of version ``version``'s file, as served to nodes."""
        return version_file(self.directory, version).read_bytes()

    def diffs(self, since: int = 0) -> Iterator[CatalogueDiff]:
        """Versions ``since + 1`` .. latest, in order."""
        for version in range(since + 1, self.latest() + 1):
            yield self.read(version)

    def tip(self) -> ChainTip:
        """Check the whole chain from version 1 and return its tip."""
        tip = ChainTip()
        for diff in self.diffs():
            tip = check_extends(tip, diff)
        return tip

    def store(self, version: int, data: bytes) -> None:
        """Keep the bytes of version ``version`` that the caller verified to extend the
        latest one held (:meth:`~mpcrec.data.catalogue_index.CatalogueIndex.append`)."""
        if version != self.latest() + 1:
            raise DataError(f"{self.directory}: holds version {self.latest()}, not {version - 1}")
        write_atomic(
            version_file(self.directory, version),
            data,
            mode=0o644,
            hint="the catalogue directory must be writable",
        )

    def append(self, diff: CatalogueDiff, tip: ChainTip) -> ChainTip:
        """Store ``diff`` after checking it extends ``tip`` (the latest version held)."""
        if tip.version != self.latest():
            raise DataError(f"{self.directory}: holds version {self.latest()}, not {tip.version}")
        after = check_extends(tip, diff)
        write_atomic(
            version_file(self.directory, diff.header.version),
            encode_diff(diff),
            mode=0o644,
            hint="the catalogue directory must be writable",
        )
        return after
