"""The runtime's count release of DP-ALS (``ALS_DP``'s head of the catalogue), round 1 of a
``dpals`` federation with a ``count_noise_multiplier``.

Every instance uploads ``C_u`` times its users' item counts, each user adding ``1/sqrt(k)``
to each of their ``k`` items (a unit L2 vector: add/remove sensitivity ``C_u`` once scaled),
padded with zeros to the round's contribution size (the committee program sums vectors of
one size). The committee adds ``N(0, (z_count C_u)^2)`` inside MPC and reveals the sum; every
member takes the top ``head_items`` of the unscaled counts (:func:`released_head`, the
simulation's :func:`~mpcrec.model.dpals.top_items`) and publishes the base model with the
rows outside the head set to 0 (:func:`head_model`): the head is part of the signed model.
The statistics round reads it back from the model (:func:`published_head`) and every
trainer renormalises its users' weights over it (:func:`head_weights`, equal to
:meth:`~mpcrec.model.dpals_train.Home.weights` given counts of that head).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mpcrec.model.dpals import ALSConfig, top_items
from mpcrec.model.dpals_train import Home
from mpcrec.model.mf import Matrix


def count_weights(home: Home, config: ALSConfig) -> Matrix:
    """Each user's count vector, ``1/sqrt(k)`` on each of their ``k`` items (as
    :func:`~mpcrec.model.dpals_train.noisy_counts` sums them), dense ``(n, n_items)``."""
    return home.weights(replace(config, tail_exponent=0.0, recency_boost=0.0, head_items=0), None)


def count_release(counts: Matrix, user_clip_norm: float, size: int) -> Matrix:
    """One instance's count contribution: ``C_u`` times its users' summed ``counts``, then
    zeros up to ``size`` values."""
    total = np.asarray(counts, dtype=np.float64).sum(axis=0) * user_clip_norm
    if total.shape[0] > size:
        raise ValueError(f"{total.shape[0]} counts do not fit a contribution of {size} values")
    return np.concatenate([total, np.zeros(size - total.shape[0])])


def released_counts(total: Matrix, n_items: int, user_clip_norm: float) -> Matrix:
    """The (noisy) item counts from the revealed sum of count contributions."""
    return np.asarray(total, dtype=np.float64)[:n_items] / user_clip_norm


def released_head(counts: Matrix, config: ALSConfig) -> np.ndarray:
    """The public head: the ``head_items`` items of largest released count."""
    return top_items(counts, config.head_items)


def head_model(base: Matrix, head: np.ndarray) -> Matrix:
    """The count round's published model: ``base`` with the rows outside ``head`` at 0."""
    return np.where(np.asarray(head, dtype=bool)[:, None], np.asarray(base, np.float64), 0.0)


def published_head(model: Matrix) -> np.ndarray:
    """The head a published model carries: its rows that are not all 0."""
    return np.asarray(np.any(np.asarray(model) != 0.0, axis=1))


def head_weights(weights: Matrix, head: np.ndarray) -> Matrix:
    """Unit-L2 statistic weights renormalised over the ``head`` items (a user with none
    keeps all zeros): every block keeps its sensitivity bound."""
    masked = np.where(np.asarray(head, dtype=bool)[None, :], weights, 0.0)
    norm = np.linalg.norm(masked, axis=1, keepdims=True)
    return np.asarray(masked / np.maximum(norm, 1e-300), dtype=np.float64)
