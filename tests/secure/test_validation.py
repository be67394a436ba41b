"""The checks' local algebra: exact projections over Z/2**64 and the decision rule.

The MPC path (shares, sign bits, OR tree) is tested end to end in tests/secure/test_program.py;
here the production rule (:func:`check_slack`) is applied to whole vectors, which is what
the sum of the members' local slacks equals (it is linear in the shares).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from mpcrec.crypto.codec import FRACTIONAL_BITS, encode
from mpcrec.crypto.sharing import expand_seed, reconstruct, split
from mpcrec.errors import ConfigError
from mpcrec.secure import ring, validation
from mpcrec.secure.ring import block_dots
from mpcrec.secure.validation import (
    check_parameters,
    check_slack,
    honest_rejection_bound,
    norm_block,
    rademacher_block,
    random_projections,
    row_dots,
)

M = 40
UNIT = 2**-FRACTIONAL_BITS  # one step of the fixed-point codec


def _slack(x: np.ndarray, clip: float | None, bound: float | None, seed: bytes) -> torch.Tensor:
    """The production rule on one whole vector: one holder, so ``first`` adds the constants."""
    whole = torch.from_numpy(x[None, :])
    return check_slack(
        whole,
        row_dots(whole, whole) if clip is not None else None,
        clip_norm=clip,
        range_bound=bound,
        projections=M,
        coin=seed,
        first=True,
    )


def _passes(x: np.ndarray, clip: float | None, bound: float | None, seed: bytes) -> bool:
    return bool((_slack(x, clip, bound, seed) >= 0).all())


@pytest.mark.parametrize("rows_per_block", [64, 2])
def test_projections_are_exact_mod_2_64_and_linear_over_shares(
    rows_per_block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validation, "ROWS", rows_per_block)  # 2: a full and a partial block
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


@pytest.mark.parametrize("rows_per_block", [64, 2])
def test_row_dots_are_squared_norms_mod_2_64(
    rows_per_block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ring, "ROWS", rows_per_block)  # 2: two full blocks and a partial one
    rng = np.random.default_rng(1)
    a = torch.from_numpy(rng.integers(-(2**40), 2**40, size=(5, 100_000), dtype=np.int64))
    b = torch.from_numpy(rng.integers(-(2**40), 2**40, size=(5, 100_000), dtype=np.int64))
    assert torch.equal(row_dots(a, a, b), (a * (a + 2 * b)).sum(1))
    assert torch.equal(row_dots(a, b), (a * b).sum(1))


@pytest.mark.parametrize("trial", range(5))
def test_honest_updates_pass_and_wrapping_or_spiky_ones_fail(trial: int) -> None:
    # Prepare
    rng = np.random.default_rng(trial)
    dim, clip, bound = 50_000, 1.0, 16.0
    seed = os.urandom(32)
    honest = encode(rng.normal(0, 0.5 * clip / np.sqrt(dim), dim))  # norm about C/2
    wrap = np.zeros(dim, dtype=np.int64)
    wrap[rng.choice(dim, 4, replace=False)] = 2**32  # squared norm 4 * 2**64 = 0 in the ring
    half_ring = np.zeros(dim, dtype=np.int64)
    half_ring[rng.choice(dim, 2, replace=False)] = -(2**63)  # squares and +-pairs vanish
    spike = honest.copy()
    spike[rng.integers(dim)] = encode(1.01 * bound)
    # Execute
    honest_passes = _passes(honest, clip, bound, seed)
    norm_only = [_passes(bad, clip, None, seed) for bad in (wrap, half_ring)]
    with_range = [_passes(bad, clip, bound, seed) for bad in (wrap, half_ring, spike)]
    # Assert
    assert honest_passes
    assert norm_only == [True, True]  # the ring norm alone is fooled ...
    assert with_range == [False, False, False]  # ... the coordinate check is not


def test_the_bounds_hold_to_one_step_of_the_codec() -> None:
    # Prepare: one coordinate exactly at B/2 and at C, then one codec step (2**-16) beyond
    dim, clip, bound = 1_000, 1.0, 16.0
    seed = os.urandom(32)

    def one_hot(value: float) -> np.ndarray:
        x = np.zeros(dim, dtype=np.int64)
        x[7] = encode(value)
        return x

    # Execute
    at_half_bound = _passes(one_hot(bound / 2), None, bound, seed)
    past_half_bound = _passes(one_hot(bound / 2 + UNIT), None, bound, seed)
    below_minus_half = _passes(one_hot(-bound / 2 - UNIT), None, bound, seed)
    at_clip = _passes(one_hot(clip), clip, None, seed)
    past_clip = _passes(one_hot(clip + UNIT), clip, None, seed)
    # Assert: |s| <= B/2 and ||x|| <= C exactly, in ring units
    assert at_half_bound and at_clip
    assert not past_half_bound and not below_minus_half and not past_clip


def test_members_slacks_sum_to_the_slack_of_the_whole_vector() -> None:
    # Prepare: three members' shares of two updates and of their squared norms
    rng = np.random.default_rng(3)
    seed = os.urandom(32)
    x = encode(rng.normal(0, 0.01, size=(2, 5_000)))
    whole = torch.from_numpy(x)
    norm = row_dots(whole, whole).numpy()
    x_shares = [torch.from_numpy(s) for s in _shares(x)]
    norm_shares = [torch.from_numpy(s) for s in _shares(norm)]
    rule = {"clip_norm": 1.0, "range_bound": 16.0, "projections": M, "coin": seed}
    # Execute
    members = [
        check_slack(xs, ns, first=j == 0, **rule)
        for j, (xs, ns) in enumerate(zip(x_shares, norm_shares, strict=True))
    ]
    plain = check_slack(whole, torch.from_numpy(norm), first=True, **rule)
    # Assert: exact in the ring, and the constants added once
    assert torch.equal(members[0] + members[1] + members[2], plain)
    assert bool((plain >= 0).all())


def _shares(x: np.ndarray) -> list[np.ndarray]:
    first, seeds = split(x, 3)
    return [first] + [expand_seed(s, x.size).reshape(x.shape) for s in seeds]


def test_bounds_and_parameters() -> None:
    assert honest_rejection_bound(1.0, 13.0, 40) < 1e-7
    assert honest_rejection_bound(1.0, 16.0, 40) < 2e-12
    assert honest_rejection_bound(1.0, 2.0, 40) == 1.0
    check_parameters(1_000_000, 1.0, 16.0)
    # the norm is checked per block of W coordinates: any D whose blocks' norms sum in the ring
    check_parameters(1_000_000, 1.0, 50.0)  # 2 blocks (refused before the blocks)
    check_parameters(100_000 * 32, 12.0, 192.0)  # the demo's bounds, 100,000 rows of 32
    assert norm_block(192.0, 10**9) == 58_254 and norm_block(192.0, 1_682 * 32) == 1_682 * 32
    with pytest.raises(ConfigError, match="too large for dim 1000: 1000 norm blocks"):
        check_parameters(1_000, 2_500.0, 40_000.0)
    with pytest.raises(ConfigError, match="too large for the 64-bit ring"):
        check_parameters(10, 1.0, 50_000.0)


def test_per_block_norms_catch_a_norm_that_wraps_the_ring_across_blocks() -> None:
    # Prepare: B = 192 (W = 58,254 coordinates a block), C = 12, three blocks each of true
    # squared norm ~2**32 / 3 (ring units 2**64 / 3, < 2**63: no wrap inside a block), so
    # the whole norm is 2**64 + a little: it wraps to a little, under C**2
    clip, bound = 12.0, 192.0
    width = norm_block(bound, 10**9)
    x = np.zeros(3 * width, dtype=np.int64)
    at_bound = int(encode(bound))
    count, rest = divmod(2**64, at_bound**2)  # coordinates at B, then one to reach 2**64
    for b in range(3):
        x[b * width : b * width + count // 3 + (b < count % 3)] = at_bound
    x[-1] = math.isqrt(rest) + 1  # the whole norm: 2**64 plus less than 2**26 ring units
    whole = torch.from_numpy(x[None, :])
    one_column = row_dots(whole, whole)  # the single norm of before
    blocks = block_dots(whole, whole, width=width)
    total = sum(int(v) for v in blocks[0])  # the true norm (no block wraps)
    # Execute: the norm columns of the rule, with one norm and with the blocks'
    kw = {"clip_norm": clip, "range_bound": None, "projections": M, "coin": b"", "first": True}
    before = check_slack(whole, one_column, **kw)
    now = check_slack(whole, blocks, **kw)
    # Assert: the true norm is past 2**64; the single ring norm is fooled, the blocks are not
    assert total >= 2**64 and all(0 < int(v) < 2**63 for v in blocks[0])
    assert bool((before >= 0).all())
    assert now.shape == (1, 4) and bool((now[0, :3] < 0).all())
