"""The append-only audit log in the launcher's SQLite, and the tree heads nodes keep.

:class:`AuditLog` stores signed entries as the leaves of an RFC 6962 Merkle tree, signs tree
heads with the launcher's key, serves inclusion and consistency proofs and exports JSON
Lines. SQLite triggers refuse any ``UPDATE`` or ``DELETE`` of an entry or head. Before an
entry goes in, its signature is checked against its author's registered key.

:class:`TreeHeadStore` is the node side: it keeps the heads a node was shown and raises
:class:`ForkDetected` when a new head is not an extension of the last one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpcrec.audit import merkle
from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry, TreeHead, canonical_json
from mpcrec.audit.merkle_tree import MerkleTree
from mpcrec.audit.schema import payload_error
from mpcrec.errors import DataError, ProtocolError, StorageError

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


class ForkDetected(ProtocolError):
    """Two signed tree heads that cannot both be prefixes of one log."""


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
        if launcher_key is not None:  # read-only otherwise: never touch someone's schema
            self._db.executescript(_SCHEMA)
            _add_head_times(self._db)
        self._timed = _has_head_times(self._db)
        self._launcher_key = launcher_key
        self._keys: dict[str, Ed25519PublicKey] = {}
        if launcher_key is not None:
            self._keys[LAUNCHER] = launcher_key.public_key()
        self._load()

    def _load(self) -> None:
        self._tree = MerkleTree()  # proofs in O(log n) (mpcrec.audit.merkle_tree)
        self._leaves = self._tree.leaves
        self._by_signature: dict[bytes, int] = {}
        self._acc = merkle.RootAccumulator()
        for body, leaf in self._db.execute("SELECT body, leaf FROM audit_entries ORDER BY idx"):
            self._remember(LogEntry.from_json(json.loads(body)), bytes(leaf))

    def _sync(self) -> None:
        """Forget entries whose transaction was rolled back (a full disk at commit)."""
        query = "SELECT coalesce(max(idx) + 1, 0) FROM audit_entries"
        stored = self._db.execute(query).fetchone()[0]
        if stored != len(self._leaves):
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
        placed = entry.at(len(self._leaves))
        body = placed.leaf_bytes()
        leaf = merkle.leaf_hash(body)
        self._db.execute(
            "INSERT INTO audit_entries (idx, body, leaf) VALUES (?, ?, ?)",
            (placed.index, body, leaf),
        )
        self._remember(placed, leaf)
        return placed.index

    def _remember(self, entry: LogEntry, leaf: bytes) -> None:
        self._tree.append(leaf)
        self._acc.append(leaf)
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
        head = TreeHead(self.size, self._acc.root(), timestamp=stamp).sign(self._launcher_key)
        self._db.execute(
            "INSERT INTO audit_heads (size, root, sig, timestamp) VALUES (?, ?, ?, ?)",
            (head.size, head.root, head.signature, head.timestamp),
        )
        return head

    # -- reading -------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of entries."""
        return len(self._leaves)

    def root(self, size: int | None = None) -> bytes:
        """The Merkle root over the first ``size`` entries (default: all)."""
        if size is None:
            return self._acc.root()
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


class TreeHeadStore:
    """The tree heads one node was shown: catches a launcher that shows two histories.

    Parameters
    ----------
    launcher_key:
        The launcher's public key (pinned when the node registered).
    path:
        A JSON Lines file keeping the heads across restarts; ``None`` keeps the latest in
        memory only.

    Only the latest head is held in memory, and each new head is appended to ``path`` as
    one line, fsynced (a long-lived node sees one head per round: rewriting the whole file
    every round made its cost grow with the federation's age). An append cut short by a
    crash leaves a last line without its newline: it is dropped when the file is read.
    """

    def __init__(self, launcher_key: Ed25519PublicKey, path: Path | None = None) -> None:
        self._key = launcher_key
        self._path = path
        self._latest: TreeHead | None = None
        if path is not None and path.is_file():
            self._latest = self._read(path)

    @staticmethod
    def _read(path: Path) -> TreeHead | None:
        """The last head of ``path``, after cutting off a torn last line."""
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):  # an append the node did not finish
            data = data[: data.rfind(b"\n") + 1]
            with path.open("r+b") as out:
                out.truncate(len(data))
        latest = None
        for number, line in enumerate(data.splitlines(), start=1):
            if line.strip():
                where = f"{path} line {number}"
                try:
                    latest = TreeHead.from_json(json.loads(line), where=where)
                except ValueError:
                    raise DataError(f"{where}: not a tree head") from None
        return latest

    def signed(self, head: TreeHead) -> bool:
        """Whether ``head`` carries the launcher's signature."""
        return head.verify(self._key)

    @property
    def latest(self) -> TreeHead | None:
        """The largest head seen so far."""
        return self._latest

    def observe(self, head: TreeHead, proof: Sequence[bytes] = ()) -> None:
        """Accept ``head`` if signed and consistent with the latest; else raise.

        ``proof`` is the launcher's consistency proof from the latest head's size to
        ``head.size`` (or from ``head.size`` to the latest's, for an older head).
        """
        if not head.verify(self._key):
            raise ProtocolError(f"tree head of size {head.size}: bad launcher signature")
        last = self.latest
        if last is not None:
            old, new = (last, head) if head.size >= last.size else (head, last)
            if not merkle.verify_consistency(
                old_size=old.size,
                new_size=new.size,
                old_root=old.root,
                new_root=new.root,
                proof=proof,
            ):
                raise ForkDetected(
                    f"tree head (size {head.size}, root {head.root.hex()[:16]}) is not "
                    f"consistent with (size {last.size}, root {last.root.hex()[:16]})",
                    hint="the launcher showed two different histories: keep both signed "
                    "heads as evidence and report them",
                )
            if head.size <= last.size:
                return  # an older head, or this one again: nothing new to keep
        if self._path is not None:
            self._append(self._path, canonical_json(head.to_json()) + b"\n")
        self._latest = head

    @staticmethod
    def _append(path: Path, line: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            raise StorageError(
                f"cannot append to {path}: {err.strerror or err}",
                hint="give the node a writable state directory",
            ) from None
