"""A published model: the global item embeddings as bytes, with their hash.

Models travel and are stored as float64 little-endian, row-major, ``n_items x dim``; the
SHA-256 of those bytes is the model hash that envelopes and results are bound to. A model
the launcher serves carries, for every version after 0, the signed result entry of each
member of the round that published it (:class:`CommitteeSignature`): nodes check them
(:mod:`mpcrec.node.model_provenance`) before training on, aggregating over or serving it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mpcrec.errors import ProtocolError


@dataclass(frozen=True)
class CommitteeSignature:
    """One member's signed ``result_signature`` log entry (its exported JSON form) with the
    keys, TLS certificate (DER) and key binding that vouch for its signing key."""

    entry: dict[str, Any]
    signing_key: bytes
    sealing_key: bytes
    certificate: bytes = field(repr=False)
    key_binding: bytes = field(repr=False)

    def to_bytes(self, *, with_payload: bool = True) -> bytes:
        """The wire form (``ModelChunk.committee_signatures``): JSON, bytes as hex; without
        the entry's payload if ``with_payload`` is false (it then travels once per model,
        :mod:`mpcrec.federation.committee_wire`)."""
        entry = (
            self.entry if with_payload else {k: v for k, v in self.entry.items() if k != "payload"}
        )
        fields = {
            "signing_key": self.signing_key,
            "sealing_key": self.sealing_key,
            "certificate": self.certificate,
            "key_binding": self.key_binding,
        }
        data = {"entry": entry, **{k: v.hex() for k, v in fields.items()}}
        return json.dumps(data, sort_keys=True).encode()

    @classmethod
    def from_bytes(
        cls, raw: bytes, shared_payload: Mapping[str, Any] | None = None
    ) -> CommitteeSignature:
        """Parse the wire form; :class:`ProtocolError` if it is not one. An entry sent
        without its payload gets ``shared_payload`` (none given: it stays without one, and
        a node refuses it as unreadable)."""
        try:
            data = json.loads(raw)
            keys = ("signing_key", "sealing_key", "certificate", "key_binding")
            values = [bytes.fromhex(data[k]) for k in keys]
            if not isinstance(data["entry"], dict):
                raise TypeError("entry is not an object")
        except (ValueError, KeyError, TypeError) as err:
            raise ProtocolError(f"a committee signature that does not parse: {err}") from None
        entry = data["entry"]
        if "payload" not in entry and shared_payload is not None:
            entry = {**entry, "payload": shared_payload}
        return cls(entry, *values)


@dataclass(frozen=True)
class PublishedModel:
    """One model version: item embeddings, float64 little-endian, ``n_items x dim``, and
    (as served) the committee that signed it (``()``: none given; see the module docstring)."""

    version: int
    n_items: int
    dim: int
    data: bytes = field(repr=False)
    committee: tuple[CommitteeSignature, ...] = field(default=(), repr=False, compare=False)
    #: A Gram release's round: the slice its committee revealed (int64 counts; its digest
    #: is in their signed result, :mod:`mpcrec.federation.gram_slice`); ``b""`` otherwise.
    gram_slice: bytes = field(default=b"", repr=False, compare=False)

    @property
    def model_hash(self) -> bytes:
        """SHA-256 of the model's bytes."""
        return hashlib.sha256(self.data).digest()

    def array(self) -> npt.NDArray[np.float64]:
        """The embeddings as an ``(n_items, dim)`` array (a copy)."""
        if len(self.data) != 8 * self.n_items * self.dim:
            raise ProtocolError(
                f"model v{self.version}: {len(self.data)} bytes, "
                f"expected {8 * self.n_items * self.dim} for {self.n_items} x {self.dim}"
            )
        flat = np.frombuffer(self.data, dtype="<f8")
        return flat.reshape(self.n_items, self.dim).astype(np.float64)

    @classmethod
    def from_array(cls, version: int, values: npt.ArrayLike) -> PublishedModel:
        """Wrap an ``(n_items, dim)`` array as model ``version``."""
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"model of shape {arr.shape}, expected (n_items, dim)")
        return cls(version, arr.shape[0], arr.shape[1], arr.astype("<f8").tobytes())
