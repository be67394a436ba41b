"""A launcher store that cannot write (a full disk): the transaction keeps nothing, in the
store or in the audit log's memory, and the store refuses as "unreachable for now"."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.sqlite_store import SQLiteStore
from mpcrec.audit import entries
from mpcrec.audit.checks import check_sequence
from mpcrec.audit.log import AuditLog
from mpcrec.federation.refusals import LauncherUnreachable


def _entries(path: Path) -> list[entries.LogEntry]:
    db = sqlite3.connect(path)
    try:
        return list(AuditLog(db, launcher_key=None).entries())
    finally:
        db.close()


def _abort(round_id: int) -> entries.LogEntry:
    return entries.abort(round_id=round_id, reason="test")


def test_a_store_error_rolls_back_the_store_and_the_log(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "launcher.sqlite")
    log = AuditLog(store.connection, launcher_key=Ed25519PrivateKey.generate())
    try:
        with store.transaction():
            log.append(_abort(1))

        with pytest.raises(LauncherUnreachable, match="disk is full"), store.transaction():
            log.append(_abort(2))
            raise sqlite3.OperationalError("database or disk is full")
        with store.transaction():
            index = log.append(_abort(3))
        head = log.sign_head()
    finally:
        store.close()

    assert index == 1
    kept = _entries(tmp_path / "launcher.sqlite")
    assert [e.round for e in kept] == [1, 3] and check_sequence(kept) == []
    assert head.size == 2


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], check=True)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)


def _fill(path: Path) -> None:
    with open(path, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC


@pytest.mark.timeout(60)
def test_a_full_disk_keeps_nothing_and_the_store_works_once_space_returns(
    tiny_disk: Path,
) -> None:
    store = SQLiteStore(tiny_disk / "launcher.sqlite")
    log = AuditLog(store.connection, launcher_key=Ed25519PrivateKey.generate())
    try:
        with store.transaction():
            log.append(_abort(1))
        _fill(tiny_disk / "filler")

        with pytest.raises(LauncherUnreachable, match="full"):
            for round_id in range(2, 200):  # until the WAL needs a page the disk lacks
                with store.transaction():
                    log.append(entries.abort(round_id=round_id, reason="x" * 4000))
        written = len(_entries(tiny_disk / "launcher.sqlite"))
        (tiny_disk / "filler").unlink()
        with store.transaction():
            index = log.append(_abort(999))
    finally:
        store.close()

    assert index == written
    kept = _entries(tiny_disk / "launcher.sqlite")
    assert check_sequence(kept) == [] and kept[-1].round == 999
