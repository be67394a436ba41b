"""An append-only Merkle tree that answers RFC 6962 proofs in O(log n) hashes.

:func:`mpcrec.audit.merkle.inclusion_proof` and :func:`~mpcrec.audit.merkle.consistency_proof`
rebuild every subtree root they need from the leaves: O(n) per proof. A launcher asked for a
proof by each of a thousand instances every round (a node's log watch) would hash its whole
log a thousand times a round. Leaves are only appended, so the root of a fixed range of
leaves never changes: :class:`MerkleTree` keeps the roots of the aligned perfect subtrees
of at least :data:`CACHED_SPAN` leaves once computed (at most ``n / CACHED_SPAN`` of them),
and each proof walks the same recursion as the functions of :mod:`mpcrec.audit.merkle`
(same split, same order: the same proofs, which the tests check) over offsets instead of
slices.
"""

from __future__ import annotations

from mpcrec.audit.merkle import _split, node_hash

CACHED_SPAN = 16  # smaller subtrees are rebuilt (at most 15 hashes each)


class MerkleTree:
    """The leaf hashes of a log, and the roots of their ranges computed so far."""

    def __init__(self) -> None:
        self.leaves: list[bytes] = []
        self._roots: dict[tuple[int, int], bytes] = {}

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        self.leaves.append(leaf)

    def range_root(self, start: int, count: int) -> bytes:
        """``MTH`` of the ``count >= 1`` leaves from ``start``."""
        if count == 1:
            return self.leaves[start]
        perfect = count & (count - 1) == 0
        key = (start, count)
        if perfect and count >= CACHED_SPAN and key in self._roots:
            return self._roots[key]
        k = _split(count)
        value = node_hash(self.range_root(start, k), self.range_root(start + k, count - k))
        if perfect and count >= CACHED_SPAN:
            self._roots[key] = value
        return value

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """``PATH(index, D[0:size])``."""
        if not 0 <= index < size <= len(self.leaves):
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
        if not 0 <= old_size <= size <= len(self.leaves):
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
