"""The audit log's index in SQLite (mpcrec.audit.log_index): the same proofs and indices as
the plain RFC 6962 functions, across reopening, for a log written before the index, after a
rolled-back transaction, and without per-entry memory."""

from __future__ import annotations

import gc
import sqlite3
import tracemalloc
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpcrec.audit import ed25519_check, entries, log_index, merkle
from mpcrec.audit.log import DATABASE_NAME, AuditLog
from mpcrec.audit.log_index import SQLiteIndex


def _abort(round_id: int) -> entries.LogEntry:
    return entries.abort(round_id=round_id, reason=f"test {round_id}")


def _append(log: AuditLog, rounds: range) -> None:
    """Append an abort entry per round, in one transaction (as a launcher's changes are)."""
    log._db.execute("BEGIN IMMEDIATE")
    for r in rounds:
        log.append(_abort(r))
    log._db.execute("COMMIT")


def _filled(path: Path | sqlite3.Connection, key: Ed25519PrivateKey, count: int) -> AuditLog:
    log = AuditLog(path, launcher_key=key)
    _append(log, range(1, count + 1))
    return log


def _leaves(log: AuditLog) -> list[bytes]:
    return [merkle.leaf_hash(e.leaf_bytes()) for e in log.entries()]


def _assert_proofs_equal_the_plain_functions(log: AuditLog, sizes: list[int]) -> None:
    leaves = _leaves(log)
    for size in sizes:
        prefix = leaves[:size]
        assert log.root(size) == merkle.root(prefix)
        for index in sorted({0, 1, size // 3, size // 2, size - 2, size - 1}):
            if 0 <= index < size:
                path = merkle.inclusion_proof(prefix, index)
                assert log.inclusion_proof(index, size) == path
        for old in sorted({1, 15, 16, 17, size // 2, size - 1}):
            if 0 < old <= size:
                assert log.consistency_proof(old, size) == merkle.consistency_proof(prefix, old)


def test_proofs_from_the_index_equal_the_plain_functions(tmp_path: Path) -> None:
    # Prepare / Execute: a writable log keeps its index in its database
    log = _filled(tmp_path / DATABASE_NAME, Ed25519PrivateKey.generate(), 300)

    # Assert
    assert isinstance(log._tree.storage, SQLiteIndex)
    _assert_proofs_equal_the_plain_functions(log, [1, 2, 15, 16, 17, 31, 64, 100, 255, 256, 300])
    log.close()


def test_a_reopened_log_gives_the_same_roots_proofs_and_indices(tmp_path: Path) -> None:
    # Prepare
    key, path = Ed25519PrivateKey.generate(), tmp_path / DATABASE_NAME
    log = _filled(path, key, 150)
    head = log.sign_head()
    signatures = [e.signature for e in log.entries()]
    proofs = [log.inclusion_proof(i) for i in range(150)]
    log.close()

    # Execute
    reopened = AuditLog(path, launcher_key=key)
    read_only = AuditLog(sqlite3.connect(path), launcher_key=None)  # the in-memory index

    # Assert
    for log in (reopened, read_only):
        assert log.size == 150 and log.root() == head.root
        assert [log.index_of(s) for s in signatures] == list(range(150))
        assert [log.inclusion_proof(i) for i in range(150)] == proofs
    _append(reopened, range(151, 171))  # and it goes on
    _assert_proofs_equal_the_plain_functions(reopened, [150, 160, 170])
    reopened.close()
    read_only.close()


def test_a_log_written_before_the_index_is_indexed_when_opened(tmp_path: Path) -> None:
    # Prepare: a log whose index tables are gone (as a launcher before them wrote it)
    key, path = Ed25519PrivateKey.generate(), tmp_path / DATABASE_NAME
    log = _filled(path, key, 100)
    signatures = [e.signature for e in log.entries()]
    root = log.root()
    log.close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE audit_nodes; DROP TABLE audit_signatures;")
    db.close()

    # Execute
    log = AuditLog(path, launcher_key=key)

    # Assert
    assert log.root() == root
    assert [log.index_of(s) for s in signatures] == list(range(100))
    _assert_proofs_equal_the_plain_functions(log, [33, 64, 100])
    nodes = log._db.execute("SELECT count(*) FROM audit_nodes").fetchone()[0]
    assert nodes == sum(100 // span for span in (16, 32, 64))
    log.close()


def test_a_rolled_back_entry_leaves_no_index_row_behind(tmp_path: Path) -> None:
    # Prepare: 31 entries; the 32nd completes subtrees of 16 and 32 leaves
    db = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    log = _filled(db, Ed25519PrivateKey.generate(), 31)
    rolled_back = _abort(99).sign(log._launcher_key)  # type: ignore[arg-type]

    # Execute
    db.execute("BEGIN IMMEDIATE")
    log.append(rolled_back)
    db.execute("ROLLBACK")
    _append(log, range(32, 40))

    # Assert
    assert log.size == 39 and log.index_of(rolled_back.signature) is None
    _assert_proofs_equal_the_plain_functions(log, [31, 32, 39])
    log.close()


def test_the_index_tables_are_append_only(tmp_path: Path) -> None:
    log = _filled(tmp_path / DATABASE_NAME, Ed25519PrivateKey.generate(), 20)
    for statement in ("UPDATE audit_nodes SET root = x''", "DELETE FROM audit_signatures"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            log._db.execute(statement)
    log.close()


def test_a_writable_log_keeps_no_memory_per_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: a log of 500 entries, asked for proofs as instances ask; the newest 64 leaf
    # hashes and 16 verified signatures kept in memory (8,192 and 1,024 in service: bounded
    # caches, small here to see past them)
    monkeypatch.setattr(log_index, "RECENT_LEAVES", 64)
    monkeypatch.setattr(ed25519_check, "VERIFIED_AT_MOST", 16)  # likewise bounded
    log = _filled(tmp_path / DATABASE_NAME, Ed25519PrivateKey.generate(), 500)
    for entry in log.entries(0, 10):
        log.locate(entry.signature, log.size)

    # Execute: 1,000 more entries (in memory before: a leaf hash and a signature each,
    # about 270 bytes)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    _append(log, range(501, 1501))
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()

    # Assert: what stays is the compact range and the keys, not 1,000 entries' worth
    assert grown < 32 * 1024, f"{grown} bytes kept for 1,000 entries"
    log.close()
