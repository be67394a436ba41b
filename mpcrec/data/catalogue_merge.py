"""The launcher's merge: the instances' exports into the next catalogue version.

Each instance exports its own public, published videos with their metadata and the URLs of
the remote videos its users interacted with (:class:`InstanceExport`,
:mod:`mpcrec.data.peertube_catalogue`). :meth:`CatalogueBook.merge` is a pure function of
the catalogue held and the exports, so anyone holding both can recompute a version:

1. exports in instance-id order; each instance's videos in URL order: a URL the catalogue
   lacks becomes a new row, vouched for by that instance (``instance``);
2. then the remote URLs nobody vouched for, in URL order, as URL-only rows (``instance``
   ``""``: metadata unknown);
3. a row vouched for by an instance whose export no longer lists it (deleted, made
   private or unpublished) is retired. An instance that sent no export retires nothing:
   silence is not deletion. URL-only rows are never retired by a merge.

Rows are never removed, reordered or rewritten; a retired row stays retired (a video made
public again keeps its retired row: its URL is in the catalogue already).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mpcrec.data.catalogue import (
    CatalogueDiff,
    ChainTip,
    VideoRecord,
    check_extends,
    make_diff,
    row_line,
)
from mpcrec.errors import DataError

MAX_URL = 2000  # PeerTube's video.url is VARCHAR(2000)
EXPORT_FORMAT = "mpcrec/catalogue-export/v1"


@dataclass(frozen=True)
class InstanceExport:
    """What one instance contributes to the catalogue: public metadata, no user data.

    Attributes
    ----------
    instance:
        The exporting instance's id (the launcher takes it from the caller's certificate).
    videos:
        Its own public, published videos.
    remote_urls:
        URLs of videos of other instances its users watched, liked or saved.
    """

    instance: str
    videos: tuple[VideoRecord, ...] = ()
    remote_urls: tuple[str, ...] = ()

    def checked(self) -> InstanceExport:
        """This export with its videos vouched for by ``instance``; bad URLs refused.

        Raises
        ------
        DataError
            A URL that is not ``http(s)://``, too long, or a video listed twice.
        """
        urls = [v.url for v in self.videos] + list(self.remote_urls)
        for url in urls:
            if not url.startswith(("https://", "http://")) or len(url) > MAX_URL:
                raise DataError(f"{self.instance}'s export: {url[:80]!r} is not a video URL")
        if len({v.url for v in self.videos}) != len(self.videos):
            raise DataError(f"{self.instance}'s export lists a video twice")
        me = self.instance
        videos = tuple(
            v if v.instance == me else dataclasses.replace(v, instance=me) for v in self.videos
        )
        return InstanceExport(self.instance, videos, self.remote_urls)


def encode_export(export: InstanceExport) -> bytes:
    """An export as sent to the launcher: a header line, then one line per video (its row
    array) and one per remote URL (a JSON string)."""
    head = json.dumps({"format": EXPORT_FORMAT, "instance": export.instance}).encode() + b"\n"
    remote = (json.dumps(u, ensure_ascii=False).encode() + b"\n" for u in export.remote_urls)
    return head + b"".join(row_line(v) for v in export.videos) + b"".join(remote)


def decode_export(data: bytes, *, instance: str) -> InstanceExport:
    """Parse :func:`encode_export`'s bytes as ``instance``'s (whatever the header says).

    Raises
    ------
    DataError
        A header of another format, a line that is neither a row nor a URL.
    """
    lines = data.split(b"\n")
    try:
        head = json.loads(lines[0])
        if not isinstance(head, dict) or head.get("format") != EXPORT_FORMAT:
            raise DataError(f"{instance}'s export is not {EXPORT_FORMAT}")
        videos, remote = [], []
        for number, line in enumerate(lines[1:], start=2):
            if not line:
                continue
            value = json.loads(line)
            if isinstance(value, str):
                remote.append(value)
            else:
                where = f"export line {number}"
                videos.append(VideoRecord.from_list(value, where=where, instance=instance))
    except ValueError as err:
        raise DataError(f"{instance}'s export is not JSON Lines ({err})") from None
    return InstanceExport(instance, tuple(videos), tuple(remote)).checked()


@dataclass
class CatalogueBook:
    """The whole catalogue in memory: every row's record, retired flags, the chain's tip."""

    records: list[VideoRecord] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    retired: bytearray = field(default_factory=bytearray)
    tip: ChainTip = field(default_factory=ChainTip)

    @classmethod
    def replay(cls, diffs: Iterable[CatalogueDiff]) -> CatalogueBook:
        """Apply every version in order, checking each extends the one before."""
        book = cls()
        for diff in diffs:
            book.apply(diff)
        return book

    def apply(self, diff: CatalogueDiff) -> None:
        """Append ``diff`` (after :func:`~mpcrec.data.catalogue.check_extends`)."""
        tip = check_extends(self.tip, diff, self.retired)
        for record in diff.records():
            if record.url in self.index:
                raise DataError(
                    f"catalogue version {diff.header.version}: {record.url} is row "
                    f"{self.index[record.url]} already"
                )
            self.index[record.url] = len(self.records)
            self.records.append(record)
        self.retired.extend(bytes(len(diff.lines)))
        for k in diff.header.new_retired:
            self.retired[k] = 1
        self.tip = tip

    def merge(self, exports: Sequence[InstanceExport]) -> CatalogueDiff | None:
        """The next version from ``exports`` (module docstring), ``None`` if nothing changes."""
        fresh: dict[str, VideoRecord] = {}
        retire: list[int] = []
        vouched = self._vouched({e.instance for e in exports})
        for export in sorted((e.checked() for e in exports), key=lambda e: e.instance):
            listed = {v.url for v in export.videos}
            for video in sorted(export.videos, key=lambda v: v.url):
                if video.url not in self.index and video.url not in fresh:
                    fresh[video.url] = video
            retire += [
                k
                for k in vouched.get(export.instance, ())
                if not self.retired[k] and self.records[k].url not in listed
            ]
        remote = {u for e in exports for u in e.remote_urls}
        for url in sorted(remote - self.index.keys() - fresh.keys()):
            fresh[url] = VideoRecord(url=url)
        if not fresh and not retire:
            return None
        return make_diff(
            version=self.tip.version + 1,
            previous=self.tip.hash,
            first_row=self.tip.rows,
            retired_before=self.tip.retired,
            records=list(fresh.values()),
            new_retired=sorted(set(retire)),
        )

    def _vouched(self, instances: set[str]) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {i: [] for i in instances}
        for k, record in enumerate(self.records):
            if record.instance in out:
                out[record.instance].append(k)
        return out

    def live_rows(self) -> list[int]:
        """Rows that are not retired."""
        return [k for k, flag in enumerate(self.retired) if not flag]
