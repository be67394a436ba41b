"""A counter-mode cryptographic PRG: one 256-bit key, one keystream, drawn in order.

:class:`CounterPRG` is AES-256 in counter mode (zero nonce) keyed with 32 bytes: draw ``n``
ring elements and you get the next ``8 n`` bytes of the keystream, so two holders of one key
who draw the same sizes in the same order get the same values (CrypTen's pairwise and dealer
generators rely on that), and without the key the stream is indistinguishable from uniform.
The first draw of a fresh PRG equals :func:`mpcrec.crypto.sharing.expand_seed` of its key.
Keys come from :func:`new_key` (``os.urandom``); a key must not be reused for a second stream.
"""

from __future__ import annotations

import os
from typing import Final

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_BYTES: Final = 32
_ZERO_NONCE: Final = bytes(16)
_AES_BLOCK: Final = 16


def new_key() -> bytes:
    """A fresh 256-bit key from the operating system's CSPRNG."""
    return os.urandom(KEY_BYTES)


class CounterPRG:
    """AES-256-CTR keystream read as ring elements or ``k``-bit words, in draw order.

    Parameters
    ----------
    key:
        32 bytes (:func:`new_key`, or received over an authenticated channel).
    """

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"PRG key of {len(key)} bytes, expected {KEY_BYTES}")
        self._encryptor = Cipher(algorithms.AES(bytes(key)), modes.CTR(_ZERO_NONCE)).encryptor()
        self.drawn_bytes = 0

    def random_bytes(self, n: int) -> bytearray:
        """The next ``n`` bytes of the keystream (a writable buffer)."""
        if n < 0:
            raise ValueError(f"negative draw of {n} bytes")
        buf = bytearray(n + _AES_BLOCK - 1)  # update_into wants a block of slack
        written = self._encryptor.update_into(bytes(n), buf)
        assert written == n
        self.drawn_bytes += n
        del buf[n:]
        return buf

    def ring_elements(self, count: int) -> npt.NDArray[np.int64]:
        """``count`` uniform elements of ``Z/2**64`` as signed ``int64`` (writable)."""
        return np.frombuffer(self.random_bytes(8 * count), dtype="<i8").astype(np.int64, copy=False)

    def kbit_words(self, count: int, bits: int) -> npt.NDArray[np.int64]:
        """``count`` uniform integers in ``[0, 2**bits)`` (``1 <= bits <= 63``), one word each."""
        if not 1 <= bits <= 63:
            raise ValueError(f"bit length {bits} outside [1, 63]")
        words = self.ring_elements(count)
        words &= (1 << bits) - 1
        return words
