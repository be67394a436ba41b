"""Fixed-point codec and seed-compressed sharing: exact ring arithmetic."""

from __future__ import annotations

from collections.abc import Callable

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


# Many sharings of two very different updates: one member's share must be uniform over the
# ring, hence have the same distribution whatever the update. Each statistic below is checked
# against a bound a uniform share exceeds with probability below ALPHA; over the about 6,000
# checks of one comparison a false alarm has probability below 1e-6 (and the sharings are
# seeded, so the test is deterministic anyway).
SHARINGS, DIM, ALPHA = 4_000, 16, 1e-10
UPDATES = (
    np.zeros(DIM, dtype=np.int64),
    encode(np.linspace(-1000.0, 1000.0, DIM)),
)
Z_BOUND = 6.5  # P(|N(0, 1)| > 6.5) = 8.0e-11 < ALPHA
DKW_BOUND = float(np.sqrt(np.log(2 / ALPHA) / (2 * SHARINGS)))  # P(sup|F_M - F| > e) <= ALPHA
ShareOf = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _bits(words: np.ndarray) -> np.ndarray:
    """Frequency of a one at each (column, bit) over the rows of ``(M, K)`` int64 words."""
    return np.unpackbits(np.ascontiguousarray(words).view(np.uint8), axis=1).mean(axis=0)


def _cdf_distance(words: np.ndarray) -> np.ndarray:
    """Per column, the largest gap between the empirical CDF of the words (as fractions of
    the ring) and the uniform CDF (Kolmogorov-Smirnov)."""
    u = np.sort(words.view(np.uint64).astype(np.float64) / 2.0**64, axis=0)
    m = u.shape[0]
    steps = np.arange(1, m + 1)[:, None] / m
    return np.maximum(steps - u, u - (steps - 1 / m)).max(axis=0)


def _leaks(shares_a: np.ndarray, shares_b: np.ndarray) -> list[str]:
    """The statistics that tell one member's shares of update a from those of update b.

    Looked at per coordinate and per difference of neighbouring coordinates (which a uniform
    share also leaves uniform: a mask reused across coordinates would show there): each
    bit's frequency against 1/2 and between a and b (binomial, sd 1/(2 sqrt(M))), and the
    whole distribution against the uniform one (the Dvoretzky-Kiefer-Wolfowitz bound).
    """
    m = shares_a.shape[0]
    words = [np.concatenate([s, np.diff(s, axis=1)], axis=1) for s in (shares_a, shares_b)]
    bit_sd = 0.5 / np.sqrt(m)
    fa, fb = (_bits(w) for w in words)
    found = []
    if max(np.max(np.abs(fa - 0.5)), np.max(np.abs(fb - 0.5))) > Z_BOUND * bit_sd:
        found.append("bit frequency against 1/2")
    if np.max(np.abs(fa - fb)) > Z_BOUND * bit_sd * np.sqrt(2):
        found.append("bit frequency between the updates")
    if max(float(np.max(_cdf_distance(w))) for w in words) > DKW_BOUND:
        found.append("distribution against uniform")
    return found


def _member_shares(share_of: ShareOf, update: np.ndarray, seed: int) -> np.ndarray:
    """``(SHARINGS, DIM)``: one member's share of ``update`` in each of many fresh sharings."""
    rng = np.random.default_rng(seed)
    return np.stack([share_of(update, rng) for _ in range(SHARINGS)])


def _first_share(update: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return split(update, 3, rng=rng)[0]


def _second_share(update: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return expand_seed(split(update, 3, rng=rng)[1][0], update.size)


def _two_members_sum(update: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What members 1 and 2 together hold, folded into one vector (s_1 + s_2 = x - s_3)."""
    first, seeds = split(update, 3, rng=rng)
    return first + expand_seed(seeds[0], update.size)


def _update_plus_noise(update: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A leaky sharing: the update hidden under small noise only (up to 1.0 in the codec)."""
    return update + rng.integers(-(2**16), 2**16, update.size)


def _mask_missing_top_byte(update: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A leaky sharing: a mask that leaves the top 8 bits of the update in the clear."""
    return update - rng.integers(0, 2**56, update.size)


def _one_mask_word(update: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A leaky sharing: one uniform mask word reused for every coordinate."""
    return update - rng.integers(-(2**63), 2**63 - 1, dtype=np.int64, endpoint=True)


@pytest.mark.parametrize("share_of", [_first_share, _second_share, _two_members_sum])
def test_single_share_is_independent_of_the_update(share_of: ShareOf) -> None:
    # Prepare / Execute: the same member's share over many sharings of each update
    zero, far = (_member_shares(share_of, u, seed=k) for k, u in enumerate(UPDATES))
    # Assert: uniform, and the same distribution for both updates
    assert _leaks(zero, far) == []


@pytest.mark.parametrize("share_of", [_update_plus_noise, _mask_missing_top_byte, _one_mask_word])
def test_the_independence_check_catches_a_leaky_sharing(share_of: ShareOf) -> None:
    # Prepare / Execute
    zero, far = (_member_shares(share_of, u, seed=k) for k, u in enumerate(UPDATES))
    # Assert
    assert _leaks(zero, far) != []
