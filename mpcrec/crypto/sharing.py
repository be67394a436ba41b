"""Additive sharing over ``Z/2**64`` with seed-compressed shares.

A contributor splits an encoded update ``x`` among ``k`` members as CrypTen does
(``x = s_1 + ... + s_k`` in the ring), but shares ``2..k`` are expanded from 32-byte seeds
with AES-256 in counter mode (a cryptographic PRG), and only share 1 is a full vector:

    s_j = PRG(seed_j)          for j = 2..k
    s_1 = x - (s_2 + ... + s_k)

So the contributor uploads ``8 * len(x)`` bytes plus ``k - 1`` seeds. Any ``k - 1`` shares
are jointly uniform (each seed's stream is pseudorandom and independent of ``x``), hence
independent of ``x``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SEED_BYTES = 32
_ZERO_NONCE = bytes(16)

Share = npt.NDArray[np.int64]


def expand_seed(seed: bytes, length: int) -> Share:
    """Expand a 32-byte seed into ``length`` uniform ring elements (AES-256-CTR keystream).

    Each seed is used for exactly one share, so the fixed counter start is safe.
    """
    if len(seed) != SEED_BYTES:
        raise ValueError(f"seed of {len(seed)} bytes, expected {SEED_BYTES}")
    if length < 0:
        raise ValueError(f"negative share length {length}")
    encryptor = Cipher(algorithms.AES(seed), modes.CTR(_ZERO_NONCE)).encryptor()
    buf = bytearray(8 * length + 15)  # update_into needs a block of slack; writable result
    written = encryptor.update_into(bytes(8 * length), buf)
    encryptor.finalize()
    assert written == 8 * length
    return np.frombuffer(buf, dtype="<i8", count=length).astype(np.int64, copy=False)


def split(
    encoded: npt.ArrayLike, k: int, *, rng: np.random.Generator | None = None
) -> tuple[Share, list[bytes]]:
    """Split an encoded vector into share 1 and the seeds of shares ``2..k``.

    Parameters
    ----------
    encoded:
        ``int64`` ring elements (see :func:`mpcrec.crypto.codec.encode`).
    k:
        Number of committee members (at least 2).
    rng:
        Source of seeds for reproducible tests only; ``None`` uses ``os.urandom``.

    Returns
    -------
    (first_share, seeds)
        ``first_share`` for member 1 and ``k - 1`` seeds for members ``2..k``.
    """
    if k < 2:
        raise ValueError(f"a committee needs at least 2 members, got k={k}")
    x = np.ascontiguousarray(encoded, dtype=np.int64)
    seeds = [
        rng.bytes(SEED_BYTES) if rng is not None else os.urandom(SEED_BYTES) for _ in range(k - 1)
    ]
    first = x.copy()
    for seed in seeds:
        first -= expand_seed(seed, x.size).reshape(x.shape)
    return first, seeds


def reconstruct(shares: Sequence[npt.ArrayLike]) -> Share:
    """Sum shares in the ring (tests and debugging only: it reveals the secret)."""
    if not shares:
        raise ValueError("no shares to reconstruct")
    total = np.array(shares[0], dtype=np.int64, copy=True)
    for share in shares[1:]:
        total += np.asarray(share, dtype=np.int64)
    return total
