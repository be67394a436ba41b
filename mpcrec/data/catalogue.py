"""The federation's video catalogue: append-only rows, versions chained by hash.

Row ``k`` of the shared model is row ``k`` of the catalogue, forever. A *version* adds rows
at the end and may mark earlier rows *retired* (a video deleted or made private on its
instance); nothing is ever removed, reordered or rewritten. Each version is a
:class:`CatalogueDiff` against the one before, and its hash chains from the previous
version's hash, so a version's hash fixes every row of every version before it:

- a row is one canonical JSON array of :data:`ROW_FIELDS` (:func:`row_line`), UTF-8, no
  spaces, ended by ``\\n``;
- ``diff = SHA-256("mpcrec/catalogue-diff/v1\\n" ‖ row lines ‖ "retired:" ‖
  canonical(sorted newly retired rows))``;
- ``hash = SHA-256("mpcrec/catalogue/v1\\n" ‖ canonical({version, previous, first_row,
  rows, new_retired, retired, diff}))`` with ``previous`` the hash of version − 1 (32 zero
  bytes before version 1), ``first_row`` the row count before, ``rows`` after,
  ``new_retired`` how many rows this version retires and ``retired`` how many are retired
  after it.

The launcher signs each version's :meth:`CatalogueHeader.log_payload` in its audit log
(entry kind ``catalogue``); :func:`link_hash` is what a node and the auditor recompute.
A version is stored as one JSON Lines file (:func:`encode_diff`): its header, then one row
per line, so a million rows stream without ever being one JSON document.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpcrec.errors import DataError

CATALOGUE_DOMAIN = b"mpcrec/catalogue/v1\n"
DIFF_DOMAIN = b"mpcrec/catalogue-diff/v1\n"
GENESIS = bytes(32)  # the "previous" hash of version 1

#: The public fields of a row, in the order of its canonical array. ``instance`` is the
#: federation member that vouched for the video (its own, local video), ``""`` for a video
#: known only by URL (a remote video some instance's users interacted with).
ROW_FIELDS = (
    "url",
    "uuid",
    "name",
    "tags",
    "category",
    "language",
    "licence",
    "channel",
    "account",
    "duration",
    "published_at",
    "instance",
)


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical(value: Any) -> bytes:
    """Compact JSON, UTF-8, no NaN: the encoding every hashed catalogue byte uses."""
    return _ENCODER.encode(value).encode()


@dataclass(frozen=True, slots=True)
class VideoRecord:
    """A video's public metadata, as PeerTube's own API publishes it (no user data).

    ``published_at`` is whole seconds since the epoch; ``category``, ``licence`` and
    ``language`` are PeerTube's codes (``None`` when unset).
    """

    url: str
    uuid: str = ""
    name: str = ""
    tags: tuple[str, ...] = ()
    category: int | None = None
    language: str | None = None
    licence: int | None = None
    channel: str = ""
    account: str = ""
    duration: int = 0
    published_at: int = 0
    instance: str = ""

    def to_list(self) -> list[Any]:
        """The canonical array (:data:`ROW_FIELDS` order)."""
        return [
            self.url, self.uuid, self.name, list(self.tags), self.category, self.language,
            self.licence, self.channel, self.account, self.duration, self.published_at,
            self.instance,
        ]  # fmt: skip

    @classmethod
    def from_list(cls, raw: Any, *, where: str = "row", instance: str | None = None) -> VideoRecord:
        """Parse a canonical array; :class:`DataError` naming ``where`` if malformed.
        ``instance`` (when given) replaces the array's vouching instance."""
        if not isinstance(raw, list) or len(raw) != len(ROW_FIELDS):
            raise DataError(f"{where}: expected an array of the {len(ROW_FIELDS)} row fields")
        url, uuid_, name, tags, cat, lang, lic, channel, account, dur, pub, inst = raw
        texts = (url, uuid_, name, channel, account, inst)
        ok = (
            all(isinstance(t, str) for t in texts)
            and url.startswith(("https://", "http://"))
            and isinstance(tags, list)
            and all(isinstance(t, str) for t in tags)
            and all(
                v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (cat, lic)
            )
            and (lang is None or isinstance(lang, str))
            and all(isinstance(v, int) and not isinstance(v, bool) for v in (dur, pub))
        )
        if not ok:
            raise DataError(f"{where}: malformed row {str(raw)[:80]!r}")
        inst = inst if instance is None else instance
        return cls(url, uuid_, name, tuple(tags), cat, lang, lic, channel, account, dur, pub, inst)


def row_line(record: VideoRecord) -> bytes:
    """One row as stored and hashed: its canonical JSON array and a newline."""
    return canonical(record.to_list()) + b"\n"


def diff_digest(lines: Iterable[bytes], new_retired: Sequence[int]) -> bytes:
    """SHA-256 over a version's row lines and the rows it retires (module docstring)."""
    digest = hashlib.sha256(DIFF_DOMAIN)
    for line in lines:
        digest.update(line)
    digest.update(b"retired:" + canonical(sorted(new_retired)))
    return digest.digest()


def link_hash(
    *,
    version: int,
    previous: bytes,
    first_row: int,
    rows: int,
    new_retired: int,
    retired: int,
    diff: bytes,
) -> bytes:
    """The version's hash, chained from ``previous`` (module docstring)."""
    body = {
        "version": version,
        "previous": previous.hex(),
        "first_row": first_row,
        "rows": rows,
        "new_retired": new_retired,
        "retired": retired,
        "diff": diff.hex(),
    }
    return hashlib.sha256(CATALOGUE_DOMAIN + canonical(dict(sorted(body.items())))).digest()


@dataclass(frozen=True)
class CatalogueHeader:
    """What a version is: its number, its place in the chain and its counts."""

    version: int
    previous: bytes
    first_row: int
    rows: int
    retired: int
    new_retired: tuple[int, ...]
    diff: bytes
    hash: bytes

    def log_payload(self) -> dict[str, Any]:
        """The payload of the version's signed ``catalogue`` audit entry."""
        return {
            "version": self.version,
            "previous": self.previous.hex(),
            "first_row": self.first_row,
            "rows": self.rows,
            "new_retired": len(self.new_retired),
            "retired": self.retired,
            "diff": self.diff.hex(),
            "hash": self.hash.hex(),
        }

    def to_json(self) -> dict[str, Any]:
        """The header line of a version file (the log payload and the retired rows)."""
        return {**self.log_payload(), "new_retired": list(self.new_retired)}

    @classmethod
    def from_json(cls, raw: Any, *, where: str = "header") -> CatalogueHeader:
        """Parse a header line; :class:`DataError` naming ``where`` if malformed."""
        try:
            return cls(
                version=int(raw["version"]),
                previous=bytes.fromhex(raw["previous"]),
                first_row=int(raw["first_row"]),
                rows=int(raw["rows"]),
                retired=int(raw["retired"]),
                new_retired=tuple(int(k) for k in raw["new_retired"]),
                diff=bytes.fromhex(raw["diff"]),
                hash=bytes.fromhex(raw["hash"]),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(f"{where}: malformed catalogue header ({err})") from None


@dataclass(frozen=True)
class CatalogueDiff:
    """One version: its header and the rows it appends (``lines``: their canonical bytes)."""

    header: CatalogueHeader
    lines: tuple[bytes, ...] = field(repr=False)

    def records(self) -> Iterator[VideoRecord]:
        """The appended rows, parsed."""
        for k, line in enumerate(self.lines):
            where = f"catalogue v{self.header.version} row {self.header.first_row + k}"
            yield VideoRecord.from_list(json.loads(line), where=where)


def make_diff(
    *,
    version: int,
    previous: bytes,
    first_row: int,
    retired_before: int,
    records: Sequence[VideoRecord],
    new_retired: Sequence[int],
) -> CatalogueDiff:
    """Build and hash the version that appends ``records`` and retires ``new_retired``."""
    lines = tuple(row_line(r) for r in records)
    retired = tuple(sorted(new_retired))
    digest = diff_digest(lines, retired)
    rows, retired_after = first_row + len(lines), retired_before + len(retired)
    chained = link_hash(
        version=version,
        previous=previous,
        first_row=first_row,
        rows=rows,
        new_retired=len(retired),
        retired=retired_after,
        diff=digest,
    )
    header = CatalogueHeader(
        version, previous, first_row, rows, retired_after, retired, digest, chained
    )
    return CatalogueDiff(header, lines)


def encode_diff(diff: CatalogueDiff) -> bytes:
    """A version file: the header line, then one row per line."""
    return canonical(diff.header.to_json()) + b"\n" + b"".join(diff.lines)


def decode_diff(data: bytes, *, where: str = "catalogue diff") -> CatalogueDiff:
    """Parse :func:`encode_diff`'s bytes (the hashes are checked by :func:`check_extends`)."""
    head, _, body = data.partition(b"\n")
    try:
        header = CatalogueHeader.from_json(json.loads(head), where=where)
    except ValueError as err:
        raise DataError(f"{where}: the header line is not JSON ({err})") from None
    lines = tuple(line + b"\n" for line in body.split(b"\n") if line)
    return CatalogueDiff(header, lines)


@dataclass(frozen=True)
class ChainTip:
    """What a holder of the catalogue knows of its latest version."""

    version: int = 0
    hash: bytes = GENESIS
    rows: int = 0
    retired: int = 0


def check_extends(
    tip: ChainTip, diff: CatalogueDiff, retired: Sequence[bool] | Sequence[int] = ()
) -> ChainTip:
    """Check ``diff`` is the next version after ``tip`` and hashes as it claims.

    ``retired`` (one flag per row of ``tip``, when the caller holds them) lets the check
    also refuse a version that retires a row twice.

    Raises
    ------
    DataError
        Naming what does not extend: the version number, the previous hash, the row
        count, a retired row that does not exist (or was retired already), or a hash.
    """
    digest = diff_digest(diff.lines, diff.header.new_retired)
    return check_link(tip, diff.header, len(diff.lines), digest, retired)


def check_link(
    tip: ChainTip,
    h: CatalogueHeader,
    appended: int,
    digest: bytes,
    retired: Sequence[bool] | Sequence[int] = (),
) -> ChainTip:
    """:func:`check_extends` for a version read as a stream: its header, how many rows it
    appended and their :func:`diff_digest`."""
    problems = []
    if h.version != tip.version + 1:
        problems.append(f"follows version {h.version - 1}, not {tip.version}")
    if h.previous != tip.hash:
        problems.append("its previous hash is not the hash of the version held")
    if h.first_row != tip.rows or h.rows != tip.rows + appended:
        problems.append(f"rows {h.first_row}..{h.rows} do not append to {tip.rows} rows")
    if any(not 0 <= k < tip.rows for k in h.new_retired) or len(set(h.new_retired)) != len(
        h.new_retired
    ):
        problems.append("it retires a row that does not exist yet, or one row twice")
    elif len(retired) and any(retired[k] for k in h.new_retired):
        problems.append("it retires a row that was retired already")
    if h.retired != tip.retired + len(h.new_retired):
        problems.append("its retired count does not add up")
    payload = {**h.log_payload(), "diff": digest.hex()}
    if digest != h.diff or payload_hash(payload) != h.hash:
        problems.append("its rows do not hash to its diff and hash")
    if problems:
        raise DataError(
            f"catalogue version {h.version}: " + "; ".join(problems),
            hint="fetch it again from version 1",
        )
    return ChainTip(h.version, h.hash, h.rows, h.retired)


def payload_hash(payload: Mapping[str, Any]) -> bytes:
    """Recompute a ``catalogue`` log payload's hash from its own fields (for the auditor)."""
    return link_hash(
        version=int(payload["version"]),
        previous=bytes.fromhex(payload["previous"]),
        first_row=int(payload["first_row"]),
        rows=int(payload["rows"]),
        new_retired=int(payload["new_retired"]),
        retired=int(payload["retired"]),
        diff=bytes.fromhex(payload["diff"]),
    )
