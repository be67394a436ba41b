"""What a node does at home each round: turn the global model into its update.

:class:`Trainer` is the interface the daemon uses. :class:`DriftTrainer` is a deterministic
stand-in for runtime tests only (it pulls the model towards a target derived from the
instance id, so a test can compute the plaintext twin of every round); the demo and real
nodes train matrix factorisation on their own interactions
(:func:`mpcrec.model.local.local_update`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]


class Trainer(Protocol):
    """Local training: the update of the global item embeddings, and its public weight."""

    def update(self, model: Matrix, version: int) -> tuple[Matrix, float]:
        """Return ``(new_local - model, weight)``, training from model ``version``."""


def drift_target(instance_id: str, shape: tuple[int, int]) -> Matrix:
    """The target :class:`DriftTrainer` pulls towards (public, for tests' plaintext twins)."""
    seed = int.from_bytes(hashlib.sha256(instance_id.encode()).digest()[:8], "big")
    return np.random.default_rng(seed).normal(0.0, 1.0, shape)


@dataclass
class DriftTrainer:
    """Stand-in training for runtime tests: ``update = rate * (target - model)``.

    Parameters
    ----------
    instance_id:
        Fixes the target.
    rate:
        Fraction of the way to the target per round.
    weight:
        The contribution's public weight.
    scale:
        Multiplies the update (a fault knob: a large scale makes an out-of-range update).
    """

    instance_id: str
    rate: float = 0.5
    weight: float = 1.0
    scale: float = 1.0

    def update(self, model: Matrix, version: int) -> tuple[Matrix, float]:
        target = drift_target(self.instance_id, (model.shape[0], model.shape[1]))
        return self.scale * self.rate * (target - model), self.weight

    def update_user_level(
        self,
        model: Matrix,
        version: int,
        *,
        user_rate: float,
        user_clip_norm: float,
        rng: np.random.Generator,
    ) -> Matrix:
        """User level with the instance as its one user: drawn with ``user_rate``, its
        update clipped to ``user_clip_norm`` (zero when not drawn)."""
        if rng.random() >= user_rate:
            return np.zeros_like(model)
        delta, _ = self.update(model, version)
        norm = float(np.linalg.norm(delta))
        return delta * min(1.0, user_clip_norm / norm) if norm > 0 else delta
