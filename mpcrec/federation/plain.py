"""The ``plaintext`` aggregation's envelope: the update itself, bound to its round and model.

Used only by ``--plaintext`` federations, the baseline the secure round is compared with: the
committee sees every update. Layout: ``MAGIC || round_id (8, big-endian) || model_hash (32)
|| len(contributor) (2) || contributor (UTF-8) || update (float64 little-endian)``.
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

from mpcrec.errors import ProtocolError

MAGIC = b"MPCRPLN1"
_HEAD = struct.Struct(">8sQ32sH")


def seal_plain(
    update: npt.ArrayLike, *, round_id: int, model_hash: bytes, contributor: str
) -> bytes:
    """The plaintext envelope of ``update`` (flattened)."""
    name = contributor.encode()
    data = np.ravel(np.asarray(update, dtype="<f8")).tobytes()
    return _HEAD.pack(MAGIC, round_id, model_hash, len(name)) + name + data


def open_plain(
    blob: bytes, *, round_id: int, model_hash: bytes, contributor: str, size: int
) -> npt.NDArray[np.float64]:
    """Check and read a plaintext envelope; :class:`ProtocolError` names what is wrong."""
    who = f"plaintext update from {contributor!r}"
    if len(blob) < _HEAD.size:
        raise ProtocolError(f"{who}: {len(blob)} bytes is too short")
    magic, rid, mhash, name_len = _HEAD.unpack_from(blob)
    name = blob[_HEAD.size : _HEAD.size + name_len].decode(errors="replace")
    body = blob[_HEAD.size + name_len :]
    if magic != MAGIC:
        raise ProtocolError(f"{who}: not a plaintext envelope")
    if rid != round_id or mhash != model_hash:
        raise ProtocolError(f"{who}: bound to round {rid} and another model, not round {round_id}")
    if name != contributor:
        raise ProtocolError(f"{who}: names {name!r} as its author")
    if len(body) != 8 * size:
        raise ProtocolError(f"{who}: {len(body) // 8} values, expected {size}")
    values = np.frombuffer(body, dtype="<f8").astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ProtocolError(f"{who}: values that are not finite")
    return values
