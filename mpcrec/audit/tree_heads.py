"""The tree heads a node keeps: :class:`TreeHeadStore` keeps the heads a node was shown and
raises :class:`ForkDetected` when a new head is not an extension of the last one (the
launcher's side is :class:`mpcrec.audit.log.AuditLog`)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mpcrec.audit import merkle
from mpcrec.audit.entries import TreeHead, canonical_json
from mpcrec.errors import DataError, ProtocolError, StorageError

#: Where a node keeps two launcher-signed heads no consistency proof joins, one JSON line
#: ``{"time", "source", "ours": head, "theirs": head}`` each (:mod:`mpcrec.node.launcher_trust`);
#: ``mpcrec audit verify --heads`` reads both heads of every line.
EVIDENCE_FILE = "fork_evidence.jsonl"


class ForkDetected(ProtocolError):
    """Two signed tree heads that cannot both be prefixes of one log."""


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
