"""The launcher's audit-log index in its SQLite file, so its memory does not grow with the log.

An :class:`~mpcrec.audit.log.AuditLog` answers two questions many times a round: where the
entry with a given signature is (an instance learns the index of an entry it signed), and
the roots of subtrees for inclusion and consistency proofs. Kept in memory, their cost grew
with every entry (a leaf hash and a signature per entry: about 270 bytes, 0.5 MB a round at a
thousand instances). :class:`SQLiteIndex` keeps them in the log's database instead:

- leaf hashes: the ``leaf`` column of ``audit_entries`` (read by range);
- ``audit_nodes``: the root of every aligned perfect subtree of at least
  :data:`~mpcrec.audit.merkle_tree.CACHED_SPAN` leaves, written with the entry that
  completes it (about one row per 8 entries);
- ``audit_signatures``: each signature's first index.

Both tables are append-only (triggers refuse ``UPDATE`` and ``DELETE``) and are written in
the same transaction as the entry. A log written before them is indexed when opened: the
rows from the last one kept on (:meth:`SQLiteIndex.load`, which also serves a rolled-back
transaction). Recently read roots and signatures, and the newest leaf hashes, are kept in
bounded caches.
"""

from __future__ import annotations

import sqlite3

INDEX_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_nodes (
    start INTEGER NOT NULL, count INTEGER NOT NULL, root BLOB NOT NULL,
    PRIMARY KEY (start, count)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_signatures (
    sig BLOB PRIMARY KEY, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS audit_nodes_no_update BEFORE UPDATE ON audit_nodes
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_nodes_no_delete BEFORE DELETE ON audit_nodes
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_signatures_no_update BEFORE UPDATE ON audit_signatures
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_signatures_no_delete BEFORE DELETE ON audit_signatures
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

CACHE_ROWS = 65536  # per cache: a cache this full is emptied (bounded, a few MB at most)
RECENT_LEAVES = 8192  # the newest leaf hashes also kept in memory (about 1 MB)


class SQLiteIndex:
    """Leaf hashes, subtree roots and signature indices in the log's database (a
    :class:`~mpcrec.audit.merkle_tree.TreeStorage`); the tables must exist."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._signatures: dict[bytes, int] = {}
        self._recent: dict[int, bytes] = {}  # the newest RECENT_LEAVES leaf hashes
        self._nodes_end = 0  # every node ending at or before this many leaves is stored
        self._signed_to = 0  # every signature of an entry before this index is stored

    def load(self) -> None:
        """Forget the caches and read how far the tables reach (after opening, and after a
        rolled-back transaction)."""
        self._nodes.clear()
        self._signatures.clear()
        self._recent.clear()
        ends = "SELECT coalesce(max(start + count), 0) FROM audit_nodes"
        self._nodes_end = int(self._db.execute(ends).fetchone()[0])
        signed = "SELECT coalesce(max(idx) + 1, 0) FROM audit_signatures"
        self._signed_to = int(self._db.execute(signed).fetchone()[0])

    # -- the tree's storage ---------------------------------------------------------------

    def add_leaf(self, index: int, leaf: bytes) -> None:
        """Keep it among the recent leaves (the entry's row holds it for good)."""
        self._recent[index] = leaf
        self._recent.pop(index - RECENT_LEAVES, None)

    def leaves(self, start: int, count: int) -> list[bytes]:
        """Leaf hashes of a range: the recent ones (where instances ask for proofs, their
        entries of the round just ended) from memory, others from ``audit_entries``."""
        if start in self._recent and start + count - 1 in self._recent:
            return [self._recent[i] for i in range(start, start + count)]
        rows = self._db.execute(
            "SELECT leaf FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, start + count),
        )
        return [bytes(leaf) for (leaf,) in rows]

    def add_node(self, start: int, count: int, root: bytes) -> None:
        """Store a completed subtree's root (unless stored already)."""
        if start + count < self._nodes_end:  # those ending there came in one transaction
            return
        self._db.execute("INSERT OR IGNORE INTO audit_nodes VALUES (?, ?, ?)", (start, count, root))
        self._nodes_end = start + count

    def node(self, start: int, count: int) -> bytes | None:
        """A stored subtree root (cached once read)."""
        key = (start, count)
        found = self._nodes.get(key)
        if found is None:
            row = self._db.execute(
                "SELECT root FROM audit_nodes WHERE start = ? AND count = ?", key
            ).fetchone()
            if row is None:
                return None
            found = bytes(row[0])
            if len(self._nodes) >= CACHE_ROWS:
                self._nodes.clear()
            self._nodes[key] = found
        return found

    # -- signatures -----------------------------------------------------------------------

    def add_signature(self, signature: bytes, index: int) -> None:
        """Store the index of the entry carrying ``signature`` (the first one kept)."""
        if index < self._signed_to:
            return
        self._db.execute("INSERT OR IGNORE INTO audit_signatures VALUES (?, ?)", (signature, index))
        self._signed_to = index + 1

    def index_of(self, signature: bytes) -> int | None:
        """The first index of the entry carrying ``signature`` (``None``: none)."""
        found = self._signatures.get(signature)
        if found is None:
            row = self._db.execute(
                "SELECT idx FROM audit_signatures WHERE sig = ?", (signature,)
            ).fetchone()
            if row is None:
                return None
            found = int(row[0])
            if len(self._signatures) >= CACHE_ROWS:
                self._signatures.clear()
            self._signatures[signature] = found
        return found
