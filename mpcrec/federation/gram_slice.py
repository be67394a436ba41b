"""A released Gram slice on the wire and in what the committee signs (issue 16).

The members of a Gram release's round (:meth:`RoundParams.gram_round`) reveal one slice of
the co-view Gram's upper triangle as integer counts. They send it with their result as
int64 little-endian bytes (:func:`slice_bytes`) and sign its :func:`slice_digest` in the
result (``slice_hash``, :class:`mpcrec.audit.entries.RoundResult`), so a node verifies the
slice it is given exactly as it verifies a model: against the committee's signatures
(:func:`check_slice`).
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

from mpcrec.errors import ProtocolError

#: Domain tag of :func:`slice_digest` (a slice's digest is never a model's).
SLICE_TAG = b"mpcrec/gram-slice/v1\x00"


def slice_bytes(counts: npt.ArrayLike) -> bytes:
    """The slice's counts as int64 little-endian bytes."""
    return np.asarray(counts, dtype="<i8").tobytes()


def slice_counts(data: bytes) -> npt.NDArray[np.int64]:
    """The counts of :func:`slice_bytes` output (:class:`ProtocolError` if malformed or
    negative)."""
    if len(data) % 8:
        raise ProtocolError(f"a Gram slice of {len(data)} bytes is not int64 counts")
    counts = np.frombuffer(data, dtype="<i8").astype(np.int64)
    if counts.size and int(counts.min()) < 0:
        raise ProtocolError("a Gram slice with a negative count")
    return counts


def slice_digest(data: bytes) -> bytes:
    """SHA-256 over :data:`SLICE_TAG` and the slice's bytes."""
    return hashlib.sha256(SLICE_TAG + data).digest()


def check_slice(data: bytes, signed_hash: bytes, *, version: int) -> npt.NDArray[np.int64]:
    """The counts of ``data`` if its digest is the one the committee signed for model
    ``version``'s round (:class:`ProtocolError` naming the version otherwise)."""
    if not signed_hash:
        raise ProtocolError(f"model version {version}: no Gram slice signed by its committee")
    if slice_digest(data) != signed_hash:
        raise ProtocolError(
            f"model version {version}: the Gram slice is not the one its committee signed",
            hint="the launcher (or the network) changed it; refetch or report the launcher",
        )
    return slice_counts(data)
