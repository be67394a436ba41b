"""A node verifies each catalogue version against the launcher's signed log entry, and
refuses (``catalogue-unverified``) what a hostile launcher could serve instead."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.catalogue import LauncherCatalogue, catalogue_fields
from mpcrec.audit.log import AuditLog
from mpcrec.data.catalogue import VideoRecord, decode_diff, encode_diff, make_diff
from mpcrec.data.catalogue_merge import InstanceExport
from mpcrec.federation.announcement import Phase, RoundAnnouncement
from mpcrec.node.catalogue_sync import CatalogueSync
from mpcrec.node.round_refusal import RoundRefused


def video(host: str, n: int) -> VideoRecord:
    return VideoRecord(url=f"https://{host}/videos/watch/{n}", uuid=f"{n:036d}", name=f"v{n}")


class Launcher:
    """A launcher's catalogue with its audit log; ``serve`` is what nodes are sent."""

    def __init__(self, tmp_path: Path, key: Ed25519PrivateKey | None = None) -> None:
        self.key = key or Ed25519PrivateKey.generate()
        tmp_path.mkdir(parents=True)
        self.log = AuditLog(tmp_path / "launcher.sqlite", launcher_key=self.key)
        self.catalogue = LauncherCatalogue(tmp_path / "catalogue", self.log)

    def publish(self, round_id: int, *exports: InstanceExport) -> RoundAnnouncement:
        for export in exports:
            self.catalogue.submit(export)
        self.catalogue.publish(round_id)
        fields = catalogue_fields(self.catalogue.in_force(round_id))
        return RoundAnnouncement(round_id, 0, Phase.OPEN, **fields)

    def fetch(self, since: int) -> Iterator[tuple[int, bytes, bytes]]:
        return self.catalogue.since(since)

    @property
    def public(self) -> bytes:
        return self.key.public_key().public_bytes_raw()


class Tampering:
    """Serves the launcher's versions through ``change(version, data, entry)``."""

    def __init__(self, launcher: Launcher, change) -> None:  # type: ignore[no-untyped-def]
        self.launcher, self.change = launcher, change

    def fetch(self, since: int) -> Iterator[tuple[int, bytes, bytes]]:
        for version, data, entry in self.launcher.fetch(since):
            yield version, *self.change(version, data, entry)


def two_rounds(tmp_path: Path) -> tuple[Launcher, RoundAnnouncement, RoundAnnouncement]:
    launcher = Launcher(tmp_path / "launcher")
    first = launcher.publish(1, InstanceExport("a", (video("a", 1), video("a", 2))))
    second = launcher.publish(2, InstanceExport("a", (video("a", 1), video("a", 3))))
    return launcher, first, second


def test_versions_are_fetched_incrementally_verified_and_kept(tmp_path: Path) -> None:
    launcher, first, second = two_rounds(tmp_path)
    seen: list[int] = []
    sync = CatalogueSync(tmp_path / "node", lambda e: seen.append(e.index))
    sync.check(first, launcher, launcher.public)
    assert sync.index.tip.version == 1 and len(sync.index) == 2
    sync.check(second, launcher, launcher.public)
    assert sync.index.tip.version == 2 and sync.index.retired.tolist() == [False, True, False]
    assert seen == [0, 1]  # both signed entries handed on to be proven in the log
    again = CatalogueSync(tmp_path / "node")  # a restart re-checks the chain from disk
    again.check(second, Tampering(launcher, lambda *_: pytest.fail("fetched again")), b"")
    with pytest.raises(RoundRefused, match="names no catalogue"):
        again.check(RoundAnnouncement(3, 0, Phase.OPEN), launcher, launcher.public)


def _repoint(version: int, data: bytes, entry: bytes) -> tuple[bytes, bytes]:
    """Row 0 of version 1 names another video (header unchanged)."""
    return data.replace(b"https://a/videos/watch/1", b"https://evil/videos/watch/1"), entry


def _reorder(version: int, data: bytes, entry: bytes) -> tuple[bytes, bytes]:
    head, *rows = data.splitlines(keepends=True)
    return head + b"".join(rows[::-1]), entry


def _drop(version: int, data: bytes, entry: bytes) -> tuple[bytes, bytes]:
    return b"".join(data.splitlines(keepends=True)[:-1]), entry


def _rehash(version: int, data: bytes, entry: bytes) -> tuple[bytes, bytes]:
    """A consistent version 1 over other rows, its entry unchanged (the launcher did not
    sign this one in its log)."""
    forged = make_diff(version=1, previous=bytes(32), first_row=0, retired_before=0,
                       records=[video("evil", 1), video("a", 2)], new_retired=[])  # fmt: skip
    return encode_diff(forged), entry


def _unsigned(version: int, data: bytes, entry: bytes) -> tuple[bytes, bytes]:
    raw = json.loads(entry)
    raw["sig"] = "00" * 64
    return data, json.dumps(raw).encode()


@pytest.mark.parametrize("change", [_repoint, _reorder, _drop, _rehash, _unsigned])
def test_a_version_that_is_not_the_signed_one_is_refused(tmp_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    launcher, first, _ = two_rounds(tmp_path)
    sync = CatalogueSync(tmp_path / "node")
    with pytest.raises(RoundRefused) as refused:
        sync.check(first, Tampering(launcher, change), launcher.public)
    assert refused.value.rule == "catalogue-unverified"
    assert sync.index.tip.version == 0 and sync.files.latest() == 0  # nothing kept


def test_a_forked_history_signed_by_the_launcher_is_refused_by_a_node_holding_the_old_one(
    tmp_path: Path,
) -> None:
    # The launcher signs a second version 2 (another chain) after the node verified v1.
    launcher, first, _second = two_rounds(tmp_path)
    sync = CatalogueSync(tmp_path / "node")
    sync.check(first, launcher, launcher.public)
    other = Launcher(tmp_path / "other", launcher.key)
    other.publish(1, InstanceExport("a", (video("a", 9),)))
    forged = other.publish(2, InstanceExport("a", (video("a", 9), video("a", 8))))
    with pytest.raises(RoundRefused, match="previous hash"):
        sync.check(forged, other, launcher.public)


def test_an_announcement_naming_another_hash_or_row_count_is_refused(tmp_path: Path) -> None:
    launcher, first, _ = two_rounds(tmp_path)
    sync = CatalogueSync(tmp_path / "node")
    with pytest.raises(RoundRefused, match="not the version this node verified"):
        sync.check(dataclasses.replace(first, catalogue_rows=3), launcher, launcher.public)
    with pytest.raises(RoundRefused, match="not the version this node verified"):
        sync.check(dataclasses.replace(first, catalogue_hash=b"x" * 32), launcher, launcher.public)


def test_a_retirement_the_launcher_signed_is_applied(tmp_path: Path) -> None:
    launcher, _, second = two_rounds(tmp_path)
    sync = CatalogueSync(tmp_path / "node")
    sync.check(second, launcher, launcher.public)
    diff = decode_diff(next(iter(launcher.fetch(1)))[1])
    assert diff.header.new_retired == (1,)
    assert sync.index.row("https://a/videos/watch/2") == 1 and sync.index.retired[1]


def test_a_node_sends_its_export_and_the_next_version_holds_it(tmp_path: Path) -> None:
    from mpcrec.data.catalogue_merge import decode_export
    from mpcrec.errors import ProtocolError

    launcher = Launcher(tmp_path / "launcher")

    class Door:
        def fetch(self, since: int) -> Iterator[tuple[int, bytes, bytes]]:
            return launcher.fetch(since)

        def submit(self, export: bytes) -> int:  # as the service: the caller is "tube"
            return launcher.catalogue.submit(decode_export(export, instance="tube"))

    class Trainer:
        def catalogue_export(self, instance: str) -> InstanceExport:
            return InstanceExport(instance, (video("tube", 1),), ("https://x/videos/watch/2",))

    sync = CatalogueSync(tmp_path / "node")
    assert sync.send_export(Trainer(), "tube", Door())
    assert not sync.send_export(Trainer(), "tube", Door())  # unchanged: not sent again
    assert sync.send_export(Trainer(), "tube", Door(), again=True)  # after registering
    assert not sync.send_export(object(), "tube", Door())  # a trainer without an export
    launcher.catalogue.publish(1)
    assert [r.url for r in launcher.catalogue.book.records] == [
        "https://tube/videos/watch/1",
        "https://x/videos/watch/2",
    ]

    class Refusing(Door):
        def submit(self, export: bytes) -> int:
            raise ProtocolError("not registered")

    assert not CatalogueSync(tmp_path / "other").send_export(Trainer(), "tube", Refusing())
