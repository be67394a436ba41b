"""Distributed Gaussian noise that survives a coalition of ``t`` of the ``k`` members.

Each member ``j`` adds ``e_j ~ N(0, sigma**2 / (k - t))`` (sampled locally with a
cryptographic PRG, never sent anywhere) to its own additive share of the aggregate,
so the revealed sum carries ``E = e_1 + ... + e_k`` with variance ``k * sigma**2 / (k - t)``.
A coalition of ``t`` members knows its own ``t`` terms and can subtract them; the rest,
a sum of ``k - t`` independent honest terms, still has variance ``sigma**2``. So the
accountant may assume Gaussian noise of standard deviation ``sigma`` on the aggregate
against any ``t`` colluding members (default ``t = k - 1``: each member adds ``sigma``,
the total is ``sqrt(k) * sigma``). The noise costs no communication.
"""

from __future__ import annotations

import math
import os

import numpy as np
import numpy.typing as npt

from mpcrec.crypto.sharing import expand_seed


def member_std(std: float, *, members: int, collusion_threshold: int) -> float:
    """Standard deviation each member adds: ``std / sqrt(k - t)``."""
    honest = members - collusion_threshold
    if not 0 <= collusion_threshold < members:
        raise ValueError(f"collusion threshold {collusion_threshold} must be in [0, {members - 1}]")
    return std / math.sqrt(honest)


def standard_normal(n: int) -> npt.NDArray[np.float64]:
    """``n`` standard normal samples from a cryptographic PRG (Box-Muller over AES-CTR).

    Uniforms are 53-bit fractions of the keystream of a fresh ``os.urandom`` seed, so no
    observer can predict or replay a member's noise (numpy's PCG64 is not a CSPRNG).
    """
    half = (n + 1) // 2
    words = expand_seed(os.urandom(32), 2 * half).view(np.uint64) >> np.uint64(11)
    uniform = (words.astype(np.float64) + 0.5) / float(1 << 53)  # in (0, 1)
    radius = np.sqrt(-2.0 * np.log(uniform[:half]))
    angle = 2.0 * np.pi * uniform[half:]
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])[:n]


def member_noise(
    dim: int, *, std: float, members: int, collusion_threshold: int, fractional_bits: int
) -> npt.NDArray[np.int64]:
    """This member's noise share, encoded at ``fractional_bits`` in the ring."""
    sd = member_std(std, members=members, collusion_threshold=collusion_threshold)
    return np.rint(standard_normal(dim) * (sd * float(1 << fractional_bits))).astype(np.int64)
