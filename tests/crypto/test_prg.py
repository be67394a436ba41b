"""The counter-mode PRG behind CrypTen's generators: one key, one stream, read in order."""

from __future__ import annotations

import numpy as np
import pytest

from mpcrec.crypto.prg import KEY_BYTES, CounterPRG, new_key
from mpcrec.crypto.sharing import expand_seed


def test_same_key_same_stream_whatever_the_draw_sizes() -> None:
    key = new_key()
    a, b = CounterPRG(key), CounterPRG(key)
    whole = a.ring_elements(1000)
    pieces = np.concatenate([b.ring_elements(n) for n in (1, 7, 0, 300, 692)])
    assert np.array_equal(whole, pieces)
    assert a.drawn_bytes == b.drawn_bytes == 8000
    assert np.array_equal(whole, expand_seed(key, 1000))  # AES-256-CTR, zero nonce


def test_different_keys_differ_and_keys_must_be_256_bits() -> None:
    assert len(new_key()) == KEY_BYTES
    assert not np.array_equal(
        CounterPRG(new_key()).ring_elements(4), CounterPRG(new_key()).ring_elements(4)
    )
    with pytest.raises(ValueError, match="expected 32"):
        CounterPRG(bytes(8))


def test_kbit_words_fill_exactly_their_range() -> None:
    prg = CounterPRG(new_key())
    bits = prg.kbit_words(4000, 1)
    assert set(np.unique(bits).tolist()) == {0, 1}
    words = prg.kbit_words(4000, 20)
    assert words.min() >= 0 and words.max() < 2**20 and words.max() >= 2**19
    with pytest.raises(ValueError, match="bit length"):
        prg.kbit_words(1, 64)
