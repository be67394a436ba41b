"""DP-ALS's metadata smoothing (:func:`~mpcrec.model.dpals.smooth_items`) in a fixed order,
the same bits in every process: what the committee members publish and sign.

Every member of a ``dpals`` round smooths the solved item factors by the items' public
metadata and signs the model's hash, so they must get the same bits. A BLAS product is not
reproducible across processes (OpenBLAS splits a reduction by thread count and picks kernels
by CPU: :mod:`mpcrec.model.content_initial`). This computes the same ridge map and blend
with no BLAS and no LAPACK:

- the weighted Gram ``F^T M F`` and ``F^T M V`` (``F`` with an intercept column): each entry
  one :func:`math.fsum` (correctly rounded: independent of order and machine) of
  elementwise IEEE products;
- the ``(k, k)`` ridge system (``k`` = features + 1, about 21 for ML-100k's genres and year)
  by a Cholesky factorisation in Python floats, every inner product an :func:`math.fsum`;
- the prediction ``F W`` row by row with :func:`math.fsum`, then the elementwise blend
  ``(m_i^+ v_i + s p_i) / (m_i^+ + s)``.

It agrees with :func:`~mpcrec.model.dpals.smooth_items` (the simulation's) to float rounding
(``tests/model/test_dpals_smooth.py``).
"""

from __future__ import annotations

import math

import numpy as np

from mpcrec.model.mf import Matrix


def _cholesky(matrix: list[list[float]]) -> list[list[float]]:
    """Lower-triangular ``L`` with ``L L^T = matrix`` (symmetric positive definite)."""
    k = len(matrix)
    lower = [[0.0] * k for _ in range(k)]
    for i in range(k):
        for j in range(i + 1):
            dot = math.fsum(lower[i][t] * lower[j][t] for t in range(j))
            if i == j:
                lower[i][i] = math.sqrt(matrix[i][i] - dot)
            else:
                lower[i][j] = (matrix[i][j] - dot) / lower[j][j]
    return lower


def _solve(lower: list[list[float]], rhs: list[float]) -> list[float]:
    """``x`` of ``L L^T x = rhs`` (forward, then backward substitution)."""
    k = len(rhs)
    y = [0.0] * k
    for i in range(k):
        y[i] = (rhs[i] - math.fsum(lower[i][t] * y[t] for t in range(i))) / lower[i][i]
    x = [0.0] * k
    for i in reversed(range(k)):
        x[i] = (y[i] - math.fsum(lower[t][i] * x[t] for t in range(i + 1, k))) / lower[i][i]
    return x


def fixed_order_smooth(
    items: Matrix, mass: Matrix, features: Matrix, *, strength: float, lam: float
) -> Matrix:
    """:func:`~mpcrec.model.dpals.smooth_items`, bit for bit the same in every process.

    Parameters
    ----------
    items:
        ``(n_items, d)`` solved item factors.
    mass:
        ``(n_items,)`` the released noisy masses ``m_i`` (negative ones count as 0).
    features:
        ``(n_items, n_features)`` public metadata features of the same items.
    strength, lam:
        ``s`` (the mass at which factor and prediction weigh the same) and the ridge penalty.
    """
    items = np.asarray(items, dtype=np.float64)
    if items.shape[0] != features.shape[0] or mass.shape != (items.shape[0],):
        raise ValueError(
            f"{items.shape[0]} items, {features.shape[0]} feature rows, mass {mass.shape}"
        )
    if lam <= 0:
        raise ValueError(f"lam must be positive, not {lam}")
    weight = np.maximum(np.asarray(mass, dtype=np.float64), 0.0)
    design = np.concatenate(
        [np.asarray(features, dtype=np.float64), np.ones((features.shape[0], 1))], axis=1
    )
    weighted = design * weight[:, None]
    k, d = design.shape[1], items.shape[1]
    gram = [[0.0] * k for _ in range(k)]
    for a in range(k):
        for b in range(a + 1):
            gram[a][b] = gram[b][a] = math.fsum(weighted[:, a] * design[:, b])
        gram[a][a] += lam
    lower = _cholesky(gram)
    content_map = np.zeros((k, d), np.float64)
    for j in range(d):
        rhs = [math.fsum(weighted[:, a] * items[:, j]) for a in range(k)]
        content_map[:, j] = _solve(lower, rhs)
    products = design[:, :, None] * content_map[None, :, :]  # (n_items, k, d), elementwise
    predicted = np.array(
        [[math.fsum(products[i, :, j]) for j in range(d)] for i in range(items.shape[0])],
        np.float64,
    ).reshape(items.shape)
    out = (weight[:, None] * items + strength * predicted) / (weight + strength)[:, None]
    return np.asarray(out, dtype=np.float64)
