"""RFC 6962 Merkle hashing and proofs against transparency-dev/merkle's published vectors."""

from __future__ import annotations

import hashlib
import random

import pytest

from mpcrec.audit.merkle import (
    EMPTY_ROOT,
    RootAccumulator,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

# transparency-dev/merkle proof/verify_test.go (the RFC 6962 test tree of certificate-transparency)
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip
# (leaf index 1-based, tree size, proof)
INCLUSION = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (1, 1, []),
]  # fmt: skip
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
HASHES = [leaf_hash(d) for d in LEAVES]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_published_vectors(size: int) -> None:
    assert root(HASHES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_published_vectors(leaf: int, size: int, proof: list[str]) -> None:
    expected = [bytes.fromhex(p) for p in proof]
    assert inclusion_proof(HASHES[:size], leaf - 1) == expected
    assert verify_inclusion(
        index=leaf - 1, size=size, leaf=HASHES[leaf - 1], proof=expected, root=ROOTS[size - 1]
    )


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_match_published_vectors(old: int, new: int, proof: list[str]) -> None:
    expected = [bytes.fromhex(p) for p in proof]
    assert consistency_proof(HASHES[:new], old) == expected
    assert verify_consistency(
        old_size=old,
        new_size=new,
        old_root=ROOTS[old - 1],
        new_root=ROOTS[new - 1],
        proof=expected,
    )


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION[:4])
def test_corrupted_inclusion_proofs_fail(leaf: int, size: int, proof: list[str]) -> None:
    # the probes of transparency-dev's corruptInclusionProof
    path = [bytes.fromhex(p) for p in proof]
    good = {"index": leaf - 1, "size": size, "leaf": HASHES[leaf - 1], "proof": path,
            "root": ROOTS[size - 1]}  # fmt: skip
    probes = [
        {**good, "index": leaf - 2}, {**good, "index": leaf}, {**good, "index": (leaf - 1) ^ 2},
        {**good, "size": size * 2}, {**good, "size": size // 2}, {**good, "leaf": b"WrongLeaf"},
        {**good, "root": EMPTY_ROOT}, {**good, "proof": [*path, b""]},
        {**good, "proof": [*path, ROOTS[size - 1]]}, {**good, "proof": [b"", *path]},
        {**good, "proof": path[:-1]},
    ]  # fmt: skip
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append({**good, "proof": flipped})
    assert verify_inclusion(**good)  # type: ignore[arg-type]
    for probe in probes:
        assert not verify_inclusion(**probe), probe  # type: ignore[arg-type]


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY[1:])
def test_corrupted_consistency_proofs_fail(old: int, new: int, proof: list[str]) -> None:
    path = [bytes.fromhex(p) for p in proof]
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    good = {"old_size": old, "new_size": new, "old_root": r1, "new_root": r2, "proof": path}
    probes = [
        {**good, "old_size": old - 1}, {**good, "old_size": old + 1},
        {**good, "old_size": old ^ 2}, {**good, "new_size": new * 2},
        {**good, "new_size": new // 2}, {**good, "old_root": b"WrongRoot"},
        {**good, "new_root": b"WrongRoot"}, {**good, "old_root": r2, "new_root": r1},
        {**good, "proof": []}, {**good, "proof": [*path, b""]}, {**good, "proof": [*path, r1]},
        {**good, "proof": [b"", *path]}, {**good, "proof": [r2, *path]},
        {**good, "proof": [path[0], *path]}, {**good, "proof": path[:-1]},
    ]  # fmt: skip
    for i in range(len(path)):
        flipped = list(path)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append({**good, "proof": flipped})
    assert verify_consistency(**good)  # type: ignore[arg-type]
    for probe in probes:
        if probe == good:
            continue
        assert not verify_consistency(**probe), probe  # type: ignore[arg-type]


def test_trivial_consistency_cases() -> None:
    a, b = b"don't care 1", b"don't care 2"
    assert verify_consistency(old_size=0, new_size=0, old_root=a, new_root=a, proof=[])
    assert verify_consistency(old_size=0, new_size=1, old_root=a, new_root=b, proof=[])
    assert not verify_consistency(old_size=1, new_size=1, old_root=a, new_root=b, proof=[])
    assert not verify_consistency(old_size=2, new_size=1, old_root=a, new_root=b, proof=[])
    assert not verify_consistency(old_size=1, new_size=2, old_root=a, new_root=b, proof=[])
    assert not verify_consistency(
        old_size=1, new_size=1, old_root=EMPTY_ROOT, new_root=EMPTY_ROOT, proof=[EMPTY_ROOT]
    )


def test_random_trees_every_proof_round_trips() -> None:
    rng = random.Random(7)
    hashes = [hashlib.sha256(rng.randbytes(8)).digest() for _ in range(70)]
    acc = RootAccumulator()
    roots = []
    for h in hashes:
        acc.append(h)
        roots.append(acc.root())
    for n in range(1, len(hashes) + 1):
        assert roots[n - 1] == root(hashes[:n])
    for n in (1, 2, 3, 7, 8, 9, 31, 32, 33, 70):
        for i in range(n):
            assert verify_inclusion(
                index=i,
                size=n,
                leaf=hashes[i],
                proof=inclusion_proof(hashes[:n], i),
                root=roots[n - 1],
            )
        for m in range(0, n + 1):
            assert verify_consistency(
                old_size=m,
                new_size=n,
                old_root=roots[m - 1] if m else EMPTY_ROOT,
                new_root=roots[n - 1],
                proof=consistency_proof(hashes[:n], m),
            )
    # a fork: same size, one leaf changed -> the old head is not a prefix of the new tree
    forked = list(hashes)
    forked[5] = leaf_hash(b"rewritten")
    assert not verify_consistency(
        old_size=10,
        new_size=40,
        old_root=roots[9],
        new_root=root(forked[:40]),
        proof=consistency_proof(forked[:40], 10),
    )
