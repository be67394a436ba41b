"""Member noise: a standard normal from a cryptographic PRG, and the per-member share of sigma."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpcrec.secure.noise import member_noise, member_std, standard_normal


def test_standard_normal_moments_and_tails() -> None:
    n = 400_000
    z = standard_normal(n)
    assert z.shape == (n,)
    se = 1 / math.sqrt(n)
    assert abs(z.mean()) < 5 * se
    assert abs(z.std() - 1) < 5 * se
    assert abs(np.mean(z**4) - 3) < 5 * math.sqrt(96 / n)
    for t, p in ((1.0, 0.3173105), (2.0, 0.0455003), (3.0, 0.0026998)):
        frac = np.mean(np.abs(z) > t)
        assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / n)
    assert not np.array_equal(standard_normal(10), standard_normal(10))


def test_member_std_splits_sigma_among_honest_members() -> None:
    assert member_std(2.0, members=3, collusion_threshold=2) == 2.0
    assert member_std(2.0, members=3, collusion_threshold=0) == pytest.approx(2 / math.sqrt(3))
    with pytest.raises(ValueError, match="collusion threshold"):
        member_std(1.0, members=3, collusion_threshold=3)


def test_member_noise_is_encoded_at_the_requested_scale() -> None:
    noise = member_noise(100_000, std=0.5, members=3, collusion_threshold=2, fractional_bits=40)
    assert noise.dtype == np.int64
    assert abs(noise.astype(np.float64).std() / 2.0**40 - 0.5) < 0.01
