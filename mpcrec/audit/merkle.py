"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

1. A leaf hashes as ``SHA-256(0x00 || data)``, an inner node as ``SHA-256(0x01 || left ||
   right)``; the empty tree's root is ``SHA-256("")``.
2. The tree over ``n`` leaves is left-balanced: its left subtree holds the largest power of
   two strictly below ``n`` (RFC 6962 section 2.1), so the root of any prefix of the log is
   fixed once its leaves are, and a bigger tree contains every smaller one.
3. An inclusion proof (``PATH``) shows a leaf is in a tree of a given size; a consistency
   proof (``PROOF``) shows a tree of size ``m`` is a prefix of a tree of size ``n``.
   Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2.

Functions take leaf *hashes*; :class:`RootAccumulator` computes prefix roots in one pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``.

    Examples
    --------
    >>> leaf_hash(b"").hex()
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d'
    """
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class RootAccumulator:
    """Appends leaf hashes and gives the root of everything appended so far, in O(log n).

    It keeps the roots of the perfect subtrees the leaves form (a compact range); the tree
    root folds them from the right.
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        size, value = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            size, value = left_size + size, node_hash(left, value)
        self._stack.append((size, value))
        self.size += 1

    def root(self) -> bytes:
        """The RFC 6962 root of the leaves appended so far."""
        if not self._stack:
            return EMPTY_ROOT
        value = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            value = node_hash(left, value)
        return value


def root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 root (``MTH``) over a sequence of leaf hashes."""
    acc = RootAccumulator()
    for leaf in leaves:
        acc.append(leaf)
    return acc.root()


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """``PATH(index, leaves)``: the audit path of leaf ``index`` in the tree over ``leaves``."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of size {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_proof(leaves[:k], index), root(leaves[k:])]
    return [*inclusion_proof(leaves[k:], index - k), root(leaves[:k])]


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """``PROOF(old_size, leaves)``: the tree of ``old_size`` leaves is a prefix of this one."""
    if not 0 <= old_size <= len(leaves):
        raise IndexError(f"size {old_size} is not a prefix of a tree of size {len(leaves)}")
    if old_size in (0, len(leaves)):
        return []
    return _subproof(old_size, leaves, True)


def verify_inclusion(
    *, index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: whether ``leaf`` is leaf ``index`` of the tree ``(size, root)``."""
    if not 0 <= index < size:
        return False
    fn, sn, value = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            value = node_hash(p, value)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            value = node_hash(value, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and value == root


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: whether tree ``(old_size, old_root)`` is a prefix of the new one."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is itself a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
