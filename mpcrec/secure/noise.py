"""Distributed Gaussian noise that survives a coalition of ``t`` of the ``k`` members.

Each member ``j`` adds ``e_j ~ N(0, sigma**2 / (k - t))`` (sampled locally from the OS
CSPRNG-seeded generator, never sent anywhere) to its own additive share of the aggregate,
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


def member_std(std: float, *, members: int, collusion_threshold: int) -> float:
    """Standard deviation each member adds: ``std / sqrt(k - t)``."""
    honest = members - collusion_threshold
    if not 0 <= collusion_threshold < members:
        raise ValueError(f"collusion threshold {collusion_threshold} must be in [0, {members - 1}]")
    return std / math.sqrt(honest)


def member_noise(
    dim: int, *, std: float, members: int, collusion_threshold: int, fractional_bits: int
) -> npt.NDArray[np.int64]:
    """This member's noise share, encoded at ``fractional_bits`` in the ring."""
    rng = np.random.default_rng(int.from_bytes(os.urandom(32), "little"))
    sd = member_std(std, members=members, collusion_threshold=collusion_threshold)
    return np.rint(rng.normal(0.0, sd, dim) * float(1 << fractional_bits)).astype(np.int64)
