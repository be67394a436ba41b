"""The server side of federated averaging, in plaintext: the reference the MPC round equals.

A round's *aggregate* is ``sum_i w_i * delta_i + noise`` over the accepted contributions,
where ``delta_i`` is contributor *i*'s update of the global item embeddings (new local
minus global, flattened row-major) and ``w_i`` are public weights. The server optimiser
then moves the global model: SGD with (heavy-ball) momentum,

    velocity <- momentum * velocity + aggregate
    params   <- params + lr * velocity

Because ``params`` and ``velocity`` are public after every publish (``velocity`` is
``(params_t - params_{t-1}) / lr``), the committee may apply this step to a secret
aggregate with public-scalar operations only. The secure committee program must
reproduce :func:`weighted_sum` and :meth:`ServerSGD.step` within fixed-point error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]


def weighted_sum(updates: Sequence[npt.ArrayLike], weights: Sequence[float]) -> Vector:
    """Return ``sum_i weights[i] * updates[i]`` as float64 (all updates the same shape)."""
    if len(updates) != len(weights):
        raise ValueError(f"{len(updates)} updates but {len(weights)} weights")
    if not updates:
        raise ValueError("no updates to aggregate")
    total = np.zeros_like(np.asarray(updates[0], dtype=np.float64))
    for update, weight in zip(updates, weights, strict=True):
        arr = np.asarray(update, dtype=np.float64)
        if arr.shape != total.shape:
            raise ValueError(f"update of shape {arr.shape}, expected {total.shape}")
        total += weight * arr
    return total


def clip_to_norm(update: npt.ArrayLike, max_norm: float) -> Vector:
    """Scale ``update`` down so its L2 norm is at most ``max_norm`` (no-op if already within)."""
    arr = np.asarray(update, dtype=np.float64)
    norm = float(np.linalg.norm(arr))
    if norm <= max_norm or norm == 0.0:
        return arr
    return arr * (max_norm / norm)


@dataclass
class ServerSGD:
    """SGD with heavy-ball momentum applied to the aggregate of a round.

    Parameters
    ----------
    lr:
        Server learning rate.
    momentum:
        Momentum coefficient (0 disables momentum).
    """

    lr: float = 1.0
    momentum: float = 0.0
    velocity: Vector | None = field(default=None, repr=False)

    def step(self, params: npt.ArrayLike, aggregate: npt.ArrayLike) -> Vector:
        """Return the new parameters and update the velocity in place."""
        agg = np.asarray(aggregate, dtype=np.float64)
        base = np.asarray(params, dtype=np.float64)
        if agg.shape != base.shape:
            raise ValueError(f"aggregate of shape {agg.shape}, params of shape {base.shape}")
        if self.velocity is None:
            self.velocity = np.zeros_like(base)
        self.velocity = self.momentum * self.velocity + agg
        return base + self.lr * self.velocity

    def public_offset(self, params: npt.ArrayLike) -> Vector:
        """``params + lr * momentum * velocity``: the public part of the next parameters.

        The next parameters are ``public_offset(params) + lr * aggregate``, which lets the
        committee apply the step to a secret aggregate with one public-scalar product.
        """
        base = np.asarray(params, dtype=np.float64)
        if self.velocity is None:
            return base.copy()
        return base + self.lr * self.momentum * self.velocity

    def observe(self, params_before: npt.ArrayLike, params_after: npt.ArrayLike) -> None:
        """Set the velocity from two published models (what every party can recompute)."""
        before = np.asarray(params_before, dtype=np.float64)
        after = np.asarray(params_after, dtype=np.float64)
        self.velocity = (after - before) / self.lr
