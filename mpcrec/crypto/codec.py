"""Fixed-point codec, bit-compatible with CrypTen's encoder.

A real number ``x`` is carried as the ring element ``round(x * 2**16)`` of ``Z/2**64``,
stored in a wrapping ``int64``: 16 fractional bits, CrypTen's default
(``cfg.encoder.precision_bits = 16``). CrypTen truncates towards zero when it encodes; we
round to nearest, which halves the encoding error and yields the same ring and scale, so
shares made here are valid ``MPCTensor.from_shares`` inputs on CrypTen's side.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mpcrec.errors import UserError

FRACTIONAL_BITS = 16
SCALE = 1 << FRACTIONAL_BITS

Encoded = npt.NDArray[np.int64]

# Largest magnitude whose encoding fits a signed 64-bit integer.
_LIMIT = float(2**63) / SCALE


def encode(x: npt.ArrayLike) -> Encoded:
    """Return ``round(x * 2**16)`` as ``int64``.

    Parameters
    ----------
    x:
        Real values (any shape).

    Raises
    ------
    UserError
        If a value is not finite or too large for the ring (``|x| >= 2**47``).
    """
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise UserError(
            "cannot encode a non-finite value (NaN or inf) in fixed point",
            hint="check the update for a diverged local training step",
        )
    scaled = np.rint(arr * SCALE)
    if scaled.size and float(np.max(np.abs(scaled))) >= 2.0**63:
        raise UserError(
            f"value of magnitude {float(np.max(np.abs(arr))):.3g} does not fit the 64-bit ring "
            f"at {FRACTIONAL_BITS} fractional bits (limit {_LIMIT:.3g})",
            hint="clip the update before encoding it",
        )
    return scaled.astype(np.int64)


def decode(x: npt.ArrayLike, *, fractional_bits: int = FRACTIONAL_BITS) -> npt.NDArray[np.float64]:
    """Return the real values of ring elements encoded with ``fractional_bits`` bits."""
    arr = np.asarray(x, dtype=np.int64)
    return arr.astype(np.float64) / float(1 << fractional_bits)
