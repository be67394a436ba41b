"""The append-only audit log in the launcher's SQLite, and the tree heads nodes keep.

:class:`AuditLog` stores signed entries as the leaves of an RFC 6962 Merkle tree, signs tree
heads with the launcher's key, serves inclusion and consistency proofs and exports JSON
Lines. SQLite triggers refuse any ``UPDATE`` or ``DELETE`` of an entry or head. Before an
entry goes in, its signature is checked against its author's registered key.

The node side, :class:`~mpcrec.audit.tree_heads.TreeHeadStore` (the heads a node was shown;
:class:`~mpcrec.audit.tree_heads.ForkDetected` when a new head does not extend the last one),
is in :mod:`mpcrec.audit.tree_heads` (also importable from here).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpcrec.audit import merkle
from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry, TreeHead, canonical_json
from mpcrec.audit.log_index import INDEX_SCHEMA, SQLiteIndex
from mpcrec.audit.merkle_tree import MemoryStorage, MerkleTree
from mpcrec.audit.schema import payload_error
from mpcrec.audit.tree_heads import ForkDetected as ForkDetected
from mpcrec.audit.tree_heads import TreeHeadStore as TreeHeadStore
from mpcrec.errors import DataError, ProtocolError

#: The launcher's database inside a state directory (``mpcrec demo --state-dir``).
DATABASE_NAME = "launcher.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (
    idx INTEGER PRIMARY KEY, body BLOB NOT NULL, leaf BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_heads (
    size INTEGER PRIMARY KEY, root BLOB NOT NULL, sig BLOB NOT NULL, timestamp INTEGER);
CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_heads_no_update BEFORE UPDATE ON audit_heads
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_heads_no_delete BEFORE DELETE ON audit_heads
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


def _has_head_times(db: sqlite3.Connection) -> bool:
    columns = db.execute("PRAGMA table_info(audit_heads)").fetchall()
    return any(column[1] == "timestamp" for column in columns)


def _add_head_times(db: sqlite3.Connection) -> None:
    """Give a log written before heads carried a time its ``timestamp`` column: the old
    heads keep ``NULL`` (and their v1 signatures), new heads are timed."""
    if not _has_head_times(db):
        db.execute("ALTER TABLE audit_heads ADD COLUMN timestamp INTEGER")


class AuditLog:
    """The launcher's append-only, Merkle-hashed log of signed entries.

    Parameters
    ----------
    database:
        A SQLite file (created if missing) or an open connection (the launcher's store).
    launcher_key:
        The launcher's signing key; it signs launcher entries and tree heads. Without it the
        log is read-only (export, proofs).
    """

    def __init__(
        self, database: Path | str | sqlite3.Connection, *, launcher_key: Ed25519PrivateKey | None
    ) -> None:
        if isinstance(database, sqlite3.Connection):
            self._db = database
        else:
            self._db = sqlite3.connect(str(database), isolation_level=None)
        # read-only otherwise: never touch someone's schema (the index is kept in memory)
        self._index = SQLiteIndex(self._db) if launcher_key is not None else None
        if launcher_key is not None:
            self._db.executescript(_SCHEMA + INDEX_SCHEMA)
            _add_head_times(self._db)
        self._timed = _has_head_times(self._db)
        self._launcher_key = launcher_key
        self._keys: dict[str, Ed25519PublicKey] = {}
        if launcher_key is not None:
            self._keys[LAUNCHER] = launcher_key.public_key()
        self._load()

    def _load(self) -> None:
        """Read the log: its keys, its tree's compact range, and (in the database when
        writable: :mod:`mpcrec.audit.log_index`; in memory when read-only) its index."""
        if self._index is not None:
            self._index.load()
        # proofs in O(log n) (mpcrec.audit.merkle_tree)
        self._tree = MerkleTree(self._index if self._index is not None else MemoryStorage())
        self._by_signature: dict[bytes, int] = {}  # read-only logs only
        with self._atomic():  # indexing a log written before the index: one transaction
            for body, leaf in self._db.execute("SELECT body, leaf FROM audit_entries ORDER BY idx"):
                self._remember(LogEntry.from_json(json.loads(body)), bytes(leaf))

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[None]:
        """One transaction around the writes inside (joining the caller's, if any)."""
        if self._index is None or self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _sync(self) -> None:
        """Forget entries whose transaction was rolled back (a full disk at commit)."""
        query = "SELECT coalesce(max(idx) + 1, 0) FROM audit_entries"
        stored = self._db.execute(query).fetchone()[0]
        if stored != self.size:
            self._load()

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> AuditLog:
        """Open the log of an existing state directory, read-only.

        ``state_dir`` is the launcher's ``state_dir`` (holding ``launcher.sqlite``) or the
        ``--state-dir`` of ``mpcrec demo`` (holding ``launcher/launcher.sqlite``).
        """
        path = Path(state_dir) / DATABASE_NAME
        if not path.is_file() and (Path(state_dir) / "launcher" / DATABASE_NAME).is_file():
            path = Path(state_dir) / "launcher" / DATABASE_NAME
        if not path.is_file():
            raise DataError(
                f"no launcher database at {path}",
                hint="pass the --state-dir of `mpcrec demo` or the launcher's configured state_dir",
            )
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        try:
            found = db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit_entries'"
            ).fetchone()[0]
        except sqlite3.DatabaseError as err:
            db.close()
            raise DataError(f"{path} is not a readable SQLite database ({err})") from None
        if not found:
            db.close()
            raise DataError(
                f"{path} holds no audit log (table audit_entries is missing)",
                hint="this launcher did not write an audit log; only launchers wired to "
                "mpcrec.audit.log.AuditLog do",
            )
        return cls(db, launcher_key=None)

    # -- writing -------------------------------------------------------------------------

    def _learn_key(self, entry: LogEntry) -> None:
        if entry.kind == Kind.REGISTER:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(entry.payload["signing_key"]))
            self._keys.setdefault(entry.author, key)
        elif entry.kind == Kind.CONFIG and LAUNCHER not in self._keys:
            raw = bytes.fromhex(entry.payload["launcher_key"])
            self._keys[LAUNCHER] = Ed25519PublicKey.from_public_bytes(raw)

    def _author_key(self, entry: LogEntry) -> Ed25519PublicKey:
        if entry.kind == Kind.REGISTER:
            if entry.author in self._keys:
                raise ProtocolError(f"{entry.author} is already registered")
            raw = bytes.fromhex(str(entry.payload.get("signing_key", "")))
            return Ed25519PublicKey.from_public_bytes(raw)
        if entry.author not in self._keys:
            raise ProtocolError(
                f"{entry.kind} entry by {entry.author!r}, who is not registered",
                hint="an instance registers before anything else it signs",
            )
        return self._keys[entry.author]

    def append(self, entry: LogEntry) -> int:
        """Check the author's signature and append; returns the entry's index.

        Unsigned launcher entries are signed with the launcher key first. A malformed
        payload (see :mod:`mpcrec.audit.schema`) is refused: the log only holds entries an
        auditor can judge.
        """
        error = payload_error(entry)
        if error:
            raise ProtocolError(f"{entry.kind} entry for round {entry.round}: {error}")
        if entry.author == LAUNCHER and not entry.signature:
            if self._launcher_key is None:
                raise ProtocolError("this log was opened without the launcher key")
            entry = entry.sign(self._launcher_key)
        if not entry.verify(self._author_key(entry)):
            raise ProtocolError(
                f"{entry.kind} entry for round {entry.round}: bad signature by {entry.author}"
            )
        self._sync()
        placed = entry.at(self.size)
        body = placed.leaf_bytes()
        leaf = merkle.leaf_hash(body)
        with self._atomic():  # the entry and its index rows together
            self._db.execute(
                "INSERT INTO audit_entries (idx, body, leaf) VALUES (?, ?, ?)",
                (placed.index, body, leaf),
            )
            self._remember(placed, leaf)
        return placed.index

    def _remember(self, entry: LogEntry, leaf: bytes) -> None:
        self._tree.append(leaf)
        if self._index is not None:
            self._index.add_signature(entry.signature, entry.index)
        else:
            self._by_signature.setdefault(entry.signature, entry.index)
        self._learn_key(entry)

    def sign_head(self, *, now: float | None = None) -> TreeHead:
        """Sign and store the head over every entry so far, at ``now`` (Unix seconds,
        default the clock's; once per size)."""
        if self._launcher_key is None:
            raise ProtocolError("this log was opened without the launcher key")
        self._sync()
        existing = [h for h in self._heads("WHERE size = ?", (self.size,))]
        if existing:
            return existing[0]
        stamp = int((time.time() if now is None else now) * 1000)
        head = TreeHead(self.size, self._tree.root(), timestamp=stamp).sign(self._launcher_key)
        self._db.execute(
            "INSERT INTO audit_heads (size, root, sig, timestamp) VALUES (?, ?, ?, ?)",
            (head.size, head.root, head.signature, head.timestamp),
        )
        return head

    # -- reading -------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of entries."""
        return self._tree.size

    def root(self, size: int | None = None) -> bytes:
        """The Merkle root over the first ``size`` entries (default: all)."""
        if size is None:
            return self._tree.root()
        size = min(size, self.size)
        return self._tree.range_root(0, size) if size > 0 else merkle.root([])

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[LogEntry]:
        """Entries ``start`` up to ``stop`` (exclusive), in order."""
        end = self.size if stop is None else stop
        rows = self._db.execute(
            "SELECT body FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
        )
        for (body,) in rows:
            yield LogEntry.from_json(json.loads(body))

    def heads(self) -> list[TreeHead]:
        """Every signed head, by size."""
        return self._heads("ORDER BY size", ())

    def latest_head(self) -> TreeHead | None:
        """The largest signed head (one row read, however old the log)."""
        found = self._heads("ORDER BY size DESC LIMIT 1", ())
        return found[0] if found else None

    def _heads(self, where: str, args: tuple[Any, ...]) -> list[TreeHead]:
        stamp = "timestamp" if self._timed else "NULL"
        rows = self._db.execute(f"SELECT size, root, sig, {stamp} FROM audit_heads {where}", args)
        return [
            TreeHead(int(s), bytes(r), bytes(g), None if t is None else int(t))
            for s, r, g, t in rows
        ]

    def index_of(self, signature: bytes) -> int | None:
        """The index of the entry carrying ``signature`` (``None``: no such entry).

        An instance knows every entry it signed but not where the log put it: this is how
        it learns the index, to ask for an inclusion proof."""
        if self._index is not None:
            return self._index.index_of(signature)
        return self._by_signature.get(signature)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of entry ``index`` in the tree of ``size`` entries (default: all)."""
        return self._tree.inclusion_proof(
            index, self.size if size is None else min(size, self.size)
        )

    def locate(self, signature: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        """``(index, audit path)`` of the entry carrying ``signature`` in the tree of the
        first ``tree_size`` entries; :class:`ProtocolError` if that tree does not hold it."""
        index = self.index_of(signature)
        if index is None or not 0 <= index < tree_size <= self.size:
            raise ProtocolError(
                f"no entry with signature {signature.hex()[:16]} in the log's first "
                f"{tree_size} entries"
            )
        return index, self.inclusion_proof(index, tree_size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Proof that the first ``old_size`` entries are a prefix of the first ``new_size``."""
        end = self.size if new_size is None else new_size
        return self._tree.consistency_proof(old_size, min(end, self.size))

    def export_jsonl(self, path: Path) -> int:
        """Write entries and heads as JSON Lines (atomically); returns the number of lines.

        A head line follows the entry that completes its size.
        """
        heads = self.heads()
        path = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
        lines = 0
        try:
            with os.fdopen(fd, "wb") as out:
                h = 0
                for position, entry in enumerate([None, *self.entries()]):
                    if entry is not None:
                        out.write(entry.leaf_bytes() + b"\n")
                        lines += 1
                    while h < len(heads) and heads[h].size == position:
                        out.write(canonical_json(heads[h].to_json()) + b"\n")
                        lines += 1
                        h += 1
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return lines

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()
