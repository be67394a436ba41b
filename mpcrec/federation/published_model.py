"""A published model: the global item embeddings as bytes, with their hash.

Models travel and are stored as float64 little-endian, row-major, ``n_items x dim``; the
SHA-256 of those bytes is the model hash that envelopes and results are bound to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mpcrec.errors import ProtocolError


@dataclass(frozen=True)
class PublishedModel:
    """One model version: item embeddings, float64 little-endian, ``n_items x dim``."""

    version: int
    n_items: int
    dim: int
    data: bytes = field(repr=False)

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
