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

from launch.round import Phase, Round, RoundPolicy
from launch.sqlite_store import SQLiteStore
from launch.store import Instance
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


def _instance(name: str, address: str) -> Instance:
    return Instance(name, b"s" * 32, b"x" * 32, address, 1.0)


def test_a_rolled_back_round_or_registration_is_not_remembered(tmp_path: Path) -> None:
    """The store keeps the latest round and the instances in memory (every call reads
    them): what a failed transaction wrote, and read back inside it, must not stay there."""
    policy = RoundPolicy(committee_size=2, min_contributors=2)
    store = SQLiteStore(tmp_path / "launcher.sqlite")
    opened = Round.open(1, 0, ["a", "b", "c"], now=0.0, policy=policy)
    revealing = opened.close_commits(["a", "b", "c"], now=1.0, policy=policy)
    try:
        store.save_round(opened)
        store.put_instance(_instance("a", "a:1"))
        assert store.latest_round() == opened and store.get_instance("a") is not None
        with pytest.raises(LauncherUnreachable), store.transaction():
            store.save_round(revealing)
            store.put_instance(_instance("a", "moved:1"))
            store.put_instance(_instance("z", "z:1"))
            seen = (store.latest_round(), store.get_instance("a"), store.get_instance("z"))
            raise sqlite3.OperationalError("database or disk is full")
        after = (store.latest_round(), store.get_instance("a"), store.get_instance("z"))
        store.save_round(revealing)
        store.put_instance(_instance("a", "moved:1"))
        committed = (store.latest_round(), store.get_instance("a"))
    finally:
        store.close()

    assert seen[0] == revealing and seen[1] is not None and seen[1].mpc_address == "moved:1"
    assert seen[2] is not None  # inside its transaction, the store reads its own writes
    assert after[0] == opened and after[2] is None
    assert after[1] is not None and after[1].mpc_address == "a:1"
    assert committed[0] is not None and committed[0].phase is Phase.REVEALING
    assert committed[1] is not None and committed[1].mpc_address == "moved:1"


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
