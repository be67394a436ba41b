"""The wrap guard's local algebra: exact projections over Z/2**64 and its decision rule.

The MPC path (shares, sign bits, OR tree) is tested end to end in test_committee.py; here the
projections are applied to whole vectors, which is what the sum of the members' local
projections equals (they are linear).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from mpcrec.crypto.codec import SCALE, encode
from mpcrec.crypto.sharing import expand_seed, reconstruct, split
from mpcrec.errors import ConfigError
from mpcrec.secure.validation import (
    check_parameters,
    honest_rejection_bound,
    rademacher_block,
    random_projections,
    row_dots,
)

M = 40


def _passes(x: np.ndarray, bound: float, seed: bytes) -> bool:
    """The committee's rule, with the same wrapping arithmetic: T - s >= 0 and s + T >= 0."""
    s = random_projections(torch.from_numpy(x[None, :]), M, seed)
    half = int(bound * SCALE / 2)
    return bool(((half - s) >= 0).all() and ((s + half) >= 0).all())


def test_projections_are_exact_mod_2_64_and_linear_over_shares() -> None:
    rng = np.random.default_rng(0)
    seed = os.urandom(32)
    x = rng.integers(-(2**63), 2**63 - 1, size=(3, 70_000), dtype=np.int64)
    got = random_projections(torch.from_numpy(x), M, seed).numpy()
    g = np.concatenate(
        [rademacher_block(seed, 0, 65_536, M), rademacher_block(seed, 65_536, 4_464, M)]
    )
    exact = x @ g.astype(np.int64)  # numpy's integer matmul wraps mod 2**64: exact reference
    assert np.array_equal(got, exact)
    first, seeds = split(x[0], 3)
    shares = [first] + [expand_seed(s, x.shape[1]) for s in seeds]
    total = reconstruct(
        [random_projections(torch.from_numpy(s[None, :]), M, seed).numpy() for s in shares]
    )
    assert np.array_equal(total, got[:1])


def test_row_dots_are_squared_norms_mod_2_64() -> None:
    rng = np.random.default_rng(1)
    a = torch.from_numpy(rng.integers(-(2**40), 2**40, size=(2, 100_000), dtype=np.int64))
    b = torch.from_numpy(rng.integers(-(2**40), 2**40, size=(2, 100_000), dtype=np.int64))
    assert torch.equal(row_dots(a, a, b), (a * (a + 2 * b)).sum(1))
    assert torch.equal(row_dots(a, b), (a * b).sum(1))


@pytest.mark.parametrize("trial", range(5))
def test_honest_updates_pass_and_wrapping_or_spiky_ones_fail(trial: int) -> None:
    rng = np.random.default_rng(trial)
    dim, clip, bound = 50_000, 1.0, 16.0
    seed = os.urandom(32)
    honest = encode(rng.normal(0, clip / np.sqrt(dim), dim))
    assert _passes(honest, bound, seed)
    wrap = np.zeros(dim, dtype=np.int64)
    wrap[rng.choice(dim, 4, replace=False)] = 2**32
    half_ring = np.zeros(dim, dtype=np.int64)
    half_ring[rng.choice(dim, 2, replace=False)] = -(2**63)  # squares and +-pairs vanish
    spike = honest.copy()
    spike[rng.integers(dim)] = int(1.01 * bound * SCALE)
    for bad in (wrap, half_ring, spike):
        assert not _passes(bad, bound, seed)


def test_bounds_and_parameters() -> None:
    assert honest_rejection_bound(1.0, 13.0, 40) < 1e-7
    assert honest_rejection_bound(1.0, 16.0, 40) < 2e-12
    assert honest_rejection_bound(1.0, 2.0, 40) == 1.0
    with pytest.raises(ConfigError, match="too large for dim"):
        check_parameters(1_000_000, 1.0, 50.0)
    check_parameters(1_000_000, 1.0, 16.0)
