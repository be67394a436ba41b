"""Fixed-point codec and seed-compressed sharing: exact ring arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from mpcrec.crypto.codec import FRACTIONAL_BITS, decode, encode
from mpcrec.crypto.sharing import expand_seed, reconstruct, split
from mpcrec.errors import UserError


def test_encode_matches_crypten_scale_and_round_trips() -> None:
    x = np.array([0.0, 1.0, -1.5, 3.14159, -(2.0**-17), 1000.25])
    enc = encode(x)
    assert enc.dtype == np.int64
    assert enc.tolist() == [0, 65536, -98304, round(3.14159 * 65536), 0, 1000 * 65536 + 16384]
    assert np.max(np.abs(decode(enc) - x)) <= 2.0 ** -(FRACTIONAL_BITS + 1)


def test_encode_rejects_non_finite_and_huge() -> None:
    with pytest.raises(UserError, match="non-finite"):
        encode([1.0, np.nan])
    with pytest.raises(UserError, match="does not fit"):
        encode([2.0**48])


def test_split_reconstructs_exactly_with_wrapping() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.integers(-(2**62), 2**62, 1000), [2**63 - 1, -(2**63)]])
    for k in (2, 3, 5):
        first, seeds = split(x, k)
        assert len(seeds) == k - 1 and all(len(s) == 32 for s in seeds)
        shares = [first] + [expand_seed(s, x.size) for s in seeds]
        assert np.array_equal(reconstruct(shares), x)


def test_expand_seed_is_deterministic_and_seed_dependent() -> None:
    a = expand_seed(b"\x01" * 32, 1000)
    assert np.array_equal(a, expand_seed(b"\x01" * 32, 1000))
    assert np.array_equal(a[:10], expand_seed(b"\x01" * 32, 10))
    assert not np.array_equal(a, expand_seed(b"\x02" * 32, 1000))


def test_single_share_is_independent_of_the_update() -> None:
    """Share 1 of a constant update and of a zero update look alike: uniform 64-bit words.

    Each share's bytes are uniform, so its bit frequencies sit at 1/2 within 5 binomial sds
    whatever the secret; a share leaking the secret (e.g. share = x) would fail badly.
    """
    n = 200_000
    for secret in (np.zeros(n, dtype=np.int64), encode(np.full(n, 0.5))):
        first, seeds = split(secret, 3)
        for share in (first, expand_seed(seeds[0], n)):
            bits = np.unpackbits(share.view(np.uint8)).reshape(n, 64).mean(axis=0)
            assert np.max(np.abs(bits - 0.5)) < 5 * 0.5 / np.sqrt(n)
            # and uncorrelated with the secret's sign pattern
            assert abs(np.corrcoef(share.astype(np.float64), secret + np.arange(n))[0, 1]) < 0.02
