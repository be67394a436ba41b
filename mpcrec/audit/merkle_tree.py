"""An append-only Merkle tree that answers RFC 6962 proofs in O(log n) hashes.

:func:`mpcrec.audit.merkle.inclusion_proof` and :func:`~mpcrec.audit.merkle.consistency_proof`
rebuild every subtree root they need from the leaves: O(n) per proof. A launcher asked for a
proof by each of a thousand instances every round (a node's log watch) would hash its whole
log a thousand times a round. Leaves are only appended, so the root of a fixed range of
leaves never changes:

1. Each append folds the new leaf into the roots of the aligned perfect subtrees the leaves
   form (the compact range, O(log n) of them; the tree's root folds them from the right).
   Every subtree completed on the way that spans at least :data:`CACHED_SPAN` leaves is
   handed to the storage (:class:`TreeStorage`) once: about ``n / 8`` of them.
2. A proof walks the same recursion as the functions of :mod:`mpcrec.audit.merkle` (same
   split, same order: the same proofs, which the tests check) over offsets instead of
   slices. A perfect subtree of at least :data:`CACHED_SPAN` leaves is one stored root; a
   smaller range is hashed from its leaves (at most 15, read at once); any other range
   splits. A proof costs O(log n) look-ups and hashes.

Where leaves and roots live is the storage's: :class:`MemoryStorage` keeps them in lists and
dicts (tests, a log opened read-only); the launcher's log keeps them in its SQLite file
(:class:`mpcrec.audit.log_index.SQLiteIndex`), so its memory does not grow with the log.
"""

from __future__ import annotations

from typing import Protocol

from mpcrec.audit import merkle
from mpcrec.audit.merkle import _split, node_hash

CACHED_SPAN = 16  # smaller subtrees are hashed from their leaves (at most 15 hashes)


class TreeStorage(Protocol):
    """Where a :class:`MerkleTree` keeps its leaf hashes and the roots of its subtrees."""

    def add_leaf(self, index: int, leaf: bytes) -> None:
        """Keep leaf ``index`` (appended in order)."""

    def leaves(self, start: int, count: int) -> list[bytes]:
        """Leaf hashes ``start`` to ``start + count`` (exclusive), in order."""

    def add_node(self, start: int, count: int, root: bytes) -> None:
        """Keep the root of the perfect subtree over ``count`` leaves from ``start``."""

    def node(self, start: int, count: int) -> bytes | None:
        """That root, if kept."""


class MemoryStorage:
    """Leaves and subtree roots in memory (grows with the log)."""

    def __init__(self) -> None:
        self._leaves: list[bytes] = []
        self._nodes: dict[tuple[int, int], bytes] = {}

    def add_leaf(self, index: int, leaf: bytes) -> None:
        """Keep leaf ``index``."""
        assert index == len(self._leaves)
        self._leaves.append(leaf)

    def leaves(self, start: int, count: int) -> list[bytes]:
        """Leaf hashes of a range."""
        return self._leaves[start : start + count]

    def add_node(self, start: int, count: int, root: bytes) -> None:
        """Keep a perfect subtree's root."""
        self._nodes[(start, count)] = root

    def node(self, start: int, count: int) -> bytes | None:
        """A kept root, or ``None``."""
        return self._nodes.get((start, count))


class MerkleTree:
    """The leaf hashes of a log (in ``storage``), their compact range, and proofs.

    Parameters
    ----------
    storage:
        Where the leaves and subtree roots are kept (default: in memory).
    """

    def __init__(self, storage: TreeStorage | None = None) -> None:
        self.storage: TreeStorage = storage if storage is not None else MemoryStorage()
        self.size = 0
        self._compact: list[tuple[int, bytes]] = []  # (span, root) of each perfect subtree

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash; hand every subtree it completes to the storage."""
        self.storage.add_leaf(self.size, leaf)
        self.size += 1
        span, value = 1, leaf
        while self._compact and self._compact[-1][0] == span:
            _, left = self._compact.pop()
            span, value = 2 * span, node_hash(left, value)
            if span >= CACHED_SPAN:
                self.storage.add_node(self.size - span, span, value)
        self._compact.append((span, value))

    def root(self) -> bytes:
        """The RFC 6962 root of every leaf appended so far."""
        if not self._compact:
            return merkle.EMPTY_ROOT
        value = self._compact[-1][1]
        for _, left in reversed(self._compact[:-1]):
            value = node_hash(left, value)
        return value

    def range_root(self, start: int, count: int) -> bytes:
        """``MTH`` of the ``count >= 1`` leaves from ``start``."""
        if count < CACHED_SPAN:
            return merkle.root(self.storage.leaves(start, count))
        if count & (count - 1) == 0:  # perfect: stored once complete
            found = self.storage.node(start, count)
            if found is not None:
                return found
        k = _split(count)
        return node_hash(self.range_root(start, k), self.range_root(start + k, count - k))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """``PATH(index, D[0:size])``."""
        if not 0 <= index < size <= self.size:
            raise IndexError(f"leaf {index} is not in a tree of size {size}")
        return self._path(index, 0, size)

    def _path(self, index: int, start: int, count: int) -> list[bytes]:
        if count == 1:
            return []
        k = _split(count)
        if index < k:
            return [*self._path(index, start, k), self.range_root(start + k, count - k)]
        return [*self._path(index - k, start + k, count - k), self.range_root(start, k)]

    def consistency_proof(self, old_size: int, size: int) -> list[bytes]:
        """``PROOF(old_size, D[0:size])``."""
        if not 0 <= old_size <= size <= self.size:
            raise IndexError(f"size {old_size} is not a prefix of a tree of size {size}")
        if old_size in (0, size):
            return []
        return self._subproof(old_size, 0, size, True)

    def _subproof(self, m: int, start: int, count: int, complete: bool) -> list[bytes]:
        if m == count:
            return [] if complete else [self.range_root(start, count)]
        k = _split(count)
        if m <= k:
            rest = self.range_root(start + k, count - k)
            return [*self._subproof(m, start, k, complete), rest]
        return [*self._subproof(m - k, start + k, count - k, False), self.range_root(start, k)]
