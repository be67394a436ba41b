"""The cached tree gives exactly the proofs and roots of the plain RFC 6962 functions."""

from __future__ import annotations

import hashlib

from mpcrec.audit import merkle
from mpcrec.audit.merkle_tree import MerkleTree


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def test_proofs_and_roots_equal_the_plain_functions_at_every_size() -> None:
    leaves = _leaves(70)  # past several cached spans (16, 32, 64), not a power of two
    tree = MerkleTree()
    for size, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        prefix = leaves[:size]
        assert tree.range_root(0, size) == merkle.root(prefix)
        for index in range(size):
            assert tree.inclusion_proof(index, size) == merkle.inclusion_proof(prefix, index)
        for old in range(size + 1):
            assert tree.consistency_proof(old, size) == merkle.consistency_proof(prefix, old)


def test_proofs_into_an_earlier_tree_after_more_appends() -> None:
    leaves = _leaves(100)
    tree = MerkleTree()
    for leaf in leaves:
        tree.append(leaf)
    for size in (1, 17, 33, 64, 65, 99):
        prefix = leaves[:size]
        for index in (0, size // 2, size - 1):
            path = tree.inclusion_proof(index, size)
            assert path == merkle.inclusion_proof(prefix, index)
            root = merkle.root(prefix)
            assert merkle.verify_inclusion(
                index=index, size=size, leaf=leaves[index], proof=path, root=root
            )
