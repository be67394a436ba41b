"""What the launcher answers about its audit log: tree heads and where entries are.

Nodes ask at each round's end (:mod:`mpcrec.node.log_watch`), a thousand of them at the same
moment. Each answer is read under the launcher's lock: the log shares the store's SQLite
connection, so a read during an open write could see an entry a full disk later rolls back
(docs/architecture.md, "The launcher's concurrency model"). :meth:`LogReads.log_proofs`
answers a node's whole check (the head and every one of its entries) under one hold of the
lock, in one call instead of one plus one per entry.
"""

from __future__ import annotations

import threading

from launch.audit_trail import AuditTrail
from mpcrec.audit.entries import TreeHead
from mpcrec.federation.refusals import InvalidMessage

#: Entries one ``GetLogProofs`` call may ask to place (a node has a few per round: its
#: commitment, contribution and result): each is an O(log n) read under the lock.
MAX_LOG_PROOFS = 64


class LogReads:
    """The read side of :class:`~launch.launcher.Launcher`'s audit log (a base class: it
    uses the launcher's lock and :class:`~launch.audit_trail.AuditTrail`)."""

    _lock: threading.RLock
    trail: AuditTrail

    def tree_head(self, known_size: int) -> tuple[TreeHead, list[bytes]]:
        """The latest signed tree head and a consistency proof from ``known_size`` to it."""
        with self._lock:
            return self.trail.tree_head(known_size)

    def inclusion_proof(self, entry_signature: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        """Index and audit path of the entry signed ``entry_signature`` in the first
        ``tree_size`` entries (:meth:`~mpcrec.audit.log.AuditLog.locate`)."""
        with self._lock:
            return self.trail.inclusion_proof(entry_signature, tree_size)

    def log_proofs(
        self, known_size: int, signatures: list[bytes]
    ) -> tuple[TreeHead, list[bytes], list[tuple[int, list[bytes]]]]:
        """:meth:`tree_head` and, in that head's tree, :meth:`inclusion_proof` of each of
        ``signatures`` (at most :data:`MAX_LOG_PROOFS`), under one hold of the lock; a
        refusal names the first entry that tree does not hold, as :meth:`inclusion_proof`."""
        if len(signatures) > MAX_LOG_PROOFS:
            raise InvalidMessage(
                f"{len(signatures)} entries to place in one call, at most {MAX_LOG_PROOFS}",
                hint="ask for the rest in another call",
            )
        with self._lock:
            head, consistency = self.tree_head(known_size)
            return head, consistency, [self.inclusion_proof(s, head.size) for s in signatures]
