"""An exact integer sum through the committee program: the co-view Gram release (issue 16).

The program (:mod:`mpcrec.secure.program`) carries a real ``x`` as the ring element
``round(x * 2**16)``. A count ``c`` sent as ``c * 2**-16`` (:func:`count_values`) is
therefore the ring element ``c`` itself: the encoding is exact, with no fraction. The
:class:`~mpcrec.secure.program.RoundSpec` of :func:`sum_spec` gives every contribution the
public weight ``1`` at a server step of ``1`` and no offset, so the program's weight
``round(1 * 1 * 2**24)`` is exact, the revealed ``sum_i 2**24 c_i`` is exact in the ring
(``|sum| * 2**24 << 2**63``), and its division by ``2**40`` is exact in float64 (an
integer times ``2**-16``): :func:`revealed_counts` multiplies back by ``2**16`` and refuses
anything that is not then an integer. Without noise the release is the plaintext sum of
the instances' counts, bit for bit.

The checks run in count units: the norm bound ``C = clip_counts * 2**-16`` and the wrap
guard's ``B = 16 C`` (:data:`RANGE_RATIO`; ``m`` random projections, soundness ``2**-m``,
docs/secure-round.md section 5). At the default 16,384 counts ``C = 0.25``, ``B = 4`` and
one block of ``2**27`` values needs no per-block norm. The committee cannot see a negative
count inside the norm bound (a comparison per value, ``D`` sign extractions, is what the
wrap guard avoids); whatever an instance sends, the sum moves by at most ``clip_counts``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mpcrec.crypto.codec import FRACTIONAL_BITS, SCALE
from mpcrec.errors import DataError, ProtocolError
from mpcrec.secure.program import RoundSpec

#: One count is one ring unit.
COUNT_UNIT = 2.0**-FRACTIONAL_BITS

#: The wrap guard's bound in norm bounds (the federation's ``RANGE_RATIO``).
RANGE_RATIO = 16.0

#: The largest count one contribution may carry (float64 holds every integer below 2**53;
#: a slice's counts are co-viewing users, far below this).
MAX_COUNT = 2**31


def count_values(counts: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``counts * 2**-16``: integer counts as the values whose encoding is the counts.

    Raises
    ------
    DataError
        If a count is not an integer in ``[0, MAX_COUNT)``.
    """
    c = np.asarray(counts)
    if c.dtype.kind not in "iu":
        raise DataError(f"co-view counts of dtype {c.dtype}: the Gram release sends integers")
    if c.size and (int(c.min()) < 0 or int(c.max()) >= MAX_COUNT):
        raise DataError(
            f"co-view counts in [{int(c.min())}, {int(c.max())}] outside [0, {MAX_COUNT})"
        )
    return np.asarray(c, dtype=np.float64) * COUNT_UNIT


def revealed_counts(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The integer counts of a revealed sum (``values * 2**16``).

    Raises
    ------
    ProtocolError
        If a value is not an integer number of counts (not an exact sum: a round with
        weights other than :func:`sum_spec`'s, or noise where none was declared).
    """
    scaled = np.asarray(values, dtype=np.float64) * SCALE
    counts = np.rint(scaled)
    if not np.array_equal(counts, scaled):
        worst = float(np.max(np.abs(counts - scaled)))
        raise ProtocolError(f"a revealed count sum off the integers by up to {worst:.3g}")
    return counts.astype(np.int64)


def sum_spec(
    round_id: int,
    dim: int,
    contributors: int,
    *,
    clip_counts: float,
    min_contributors: int = 1,
    noise_std: float = 0.0,
) -> RoundSpec:
    """The round that sums ``contributors`` count vectors of ``dim`` values exactly, each
    checked to norm ``clip_counts`` (in counts) and by the wrap guard (module docstring);
    ``noise_std`` (in counts) is the committee's Gaussian, ``0`` for the exact sum."""
    clip = clip_counts * COUNT_UNIT
    return RoundSpec(
        round_id=round_id,
        dim=dim,
        weights=(1.0,) * contributors,
        public_offset=np.zeros(dim),
        server_lr=1.0,
        clip_norm=clip,
        range_bound=RANGE_RATIO * clip,
        noise_std=noise_std * COUNT_UNIT,
        min_contributors=min_contributors,
    )
