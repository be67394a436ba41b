"""CrypTen's draws go through 256-bit-keyed PRGs (committees.transport.randomness)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from committees.transport.randomness import (
    RingGenerator,
    generate_kbit_random_tensor,
    generate_random_ring_element,
)
from mpcrec.crypto.prg import CounterPRG, new_key


def test_crypten_draws_take_the_prg_and_refuse_torch_generators() -> None:
    key = new_key()
    g, twin = RingGenerator(key), CounterPRG(key)
    ring = generate_random_ring_element(torch.Size([3, 5]), generator=g, device="cpu")
    assert ring.shape == (3, 5) and ring.dtype == torch.int64
    assert np.array_equal(ring.reshape(-1).numpy(), twin.ring_elements(15))
    bits = generate_kbit_random_tensor((4,), bitlength=1, generator=g)
    assert np.array_equal(bits.numpy(), twin.kbit_words(4, 1))
    ring.add_(1)  # shares are updated in place by CrypTen: the tensor must be writable
    with pytest.raises(TypeError, match="refusing to draw"):
        generate_random_ring_element((2,), generator=torch.Generator())
