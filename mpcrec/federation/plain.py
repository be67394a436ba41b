"""The ``plaintext`` aggregation's envelope: the update itself, bound to its round and model.

Used only by ``--plaintext`` federations, the baseline the secure round is compared with: the
committee sees every update. Layout: ``MAGIC || round_id (8, big-endian) || model_hash (32)
|| weight (float64, big-endian) || params_hash (32) || len(contributor) (2) || contributor
(UTF-8) || update (float64 little-endian)``. Nothing is signed: the launcher can rewrite a
plaintext envelope, which is one reason nodes refuse plaintext unless their privacy floor
allows it.
"""

from __future__ import annotations

import struct

import numpy as np
import numpy.typing as npt

from mpcrec.errors import ProtocolError

MAGIC = b"MPCRPLN2"
_HEAD = struct.Struct(">8sQ32sd32sH")


def seal_plain(
    update: npt.ArrayLike,
    *,
    round_id: int,
    model_hash: bytes,
    contributor: str,
    weight: float = 1.0,
    params_hash: bytes = bytes(32),
) -> bytes:
    """The plaintext envelope of ``update`` (flattened)."""
    name = contributor.encode()
    data = np.ravel(np.asarray(update, dtype="<f8")).tobytes()
    head = _HEAD.pack(MAGIC, round_id, model_hash, weight, params_hash, len(name))
    return head + name + data


def plain_terms(blob: bytes) -> tuple[float, bytes]:
    """``(weight, params_hash)`` a plaintext envelope declares (:class:`ProtocolError` if it
    is too short to say)."""
    if len(blob) < _HEAD.size:
        raise ProtocolError(f"plaintext envelope of {len(blob)} bytes is too short")
    _, _, _, weight, params_hash, _ = _HEAD.unpack_from(blob)
    return float(weight), bytes(params_hash)


def open_plain(
    blob: bytes, *, round_id: int, model_hash: bytes, contributor: str, size: int
) -> npt.NDArray[np.float64]:
    """Check and read a plaintext envelope; :class:`ProtocolError` names what is wrong."""
    who = f"plaintext update from {contributor!r}"
    if len(blob) < _HEAD.size:
        raise ProtocolError(f"{who}: {len(blob)} bytes is too short")
    magic, rid, mhash, _, _, name_len = _HEAD.unpack_from(blob)
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
