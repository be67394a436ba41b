r"""A model personal to each instance, fitted at home on top of the shared ALS model.

An instance holds the public item factors ``V`` (of :mod:`mpcrec.model.dpals_train`) and its
own users' confidences. It fits its own item factors, pulled toward the shared ones:

    V_k = argmin  sum_{u in k} [ sum_i c_ui (1 - u.v_i)^2 + w0 sum_i (u.v_i)^2 ]
                  + lam_p sum_i ||v_i - V_i||^2

i.e. ``v_i = (sum_u c_ui u u^T + w0 U_k^T U_k + lam_p I)^-1 (sum_u c_ui u + lam_p V_i)``,
alternated with the exact user solve (:func:`~mpcrec.model.dpals.solve_users`) ``sweeps``
times. ``lam_p = inf`` is the shared model itself. Each instance chooses ``lam_p`` from a
grid on its OWN users' validation items (:func:`choose_strength`); nothing leaves the
instance, so the shared model's privacy guarantee toward other instances is unchanged
(what one user's recommendations reveal about another user of the SAME instance is not
covered by it: the instance holds both histories anyway).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mpcrec.data.interactions import IntArray
from mpcrec.data.split import Split
from mpcrec.model.dpals import ALSConfig, solve_users
from mpcrec.model.dpals_train import Home
from mpcrec.model.metrics import rank_held_out
from mpcrec.model.mf import Matrix

STRENGTHS = (math.inf, 300.0, 100.0, 30.0, 10.0)
"""The grid of ``lam_p`` an instance chooses from (``inf``: the shared model)."""


def personal_items(
    shared: Matrix, conf: Matrix, config: ALSConfig, strength: float, sweeps: int = 2
) -> tuple[Matrix, Matrix]:
    """The instance's own item and user factors (``strength=inf``: the shared ones).

    Parameters
    ----------
    shared:
        ``(n_items, d)`` public item factors.
    conf:
        ``(n_users, n_items)`` confidences of the instance's users.
    strength:
        ``lam_p``, the pull toward ``shared``.
    """
    items = shared
    users = solve_users(items, conf, config)
    if math.isinf(strength):
        return items, users
    d = shared.shape[1]
    for _ in range(sweeps):
        outer = np.einsum("ud,ue->ude", users, users).reshape(users.shape[0], d * d)
        lhs = (conf.T @ outer).reshape(-1, d, d)
        lhs += config.user_unobserved * (users.T @ users) + strength * np.eye(d)
        rhs = conf.T @ users + strength * shared
        items = np.linalg.solve(lhs, rhs[..., None])[..., 0]
        if config.item_bias:  # the bias column stays the shared one: users fix it to 1
            items[:, -1] = shared[:, -1]
        users = solve_users(items, conf, config)
    return np.asarray(items), users


def instance_gains(
    split: Split, homes: Sequence[Home], factors: Sequence[tuple[Matrix, Matrix]], stage: str
) -> Matrix:
    """Every user's NDCG@10 on ``stage``, each scored by its own instance's factors."""
    scores = np.zeros((split.n_users, split.n_items))
    for home, (items, users) in zip(homes, factors, strict=True):
        scores[home.global_users] = users @ items.T

    def scorer(users: IntArray) -> Matrix:
        return scores[users]

    ranks = rank_held_out(scorer, split, stage=stage).ranks
    return np.where(ranks < 10, 1.0 / np.log2(ranks + 2.0), 0.0)


def choose_strength(
    tuning: Split,
    homes: Sequence[Home],
    shared: Matrix,
    config: ALSConfig,
    grid: Sequence[float] = STRENGTHS,
) -> list[float]:
    """Every instance's ``lam_p``: the best validation NDCG@10 of its own users.

    ``homes`` and ``shared`` must come from ``tuning`` (the leave-last-out view), where no
    model has seen the validation items. Ties go to the earlier (stronger) grid value.
    """
    per_strength = []
    for strength in grid:
        factors = [personal_items(shared, home.conf, config, strength) for home in homes]
        per_strength.append(instance_gains(tuning, homes, factors, stage="valid"))
    chosen = []
    for home in homes:
        means = [float(g[home.global_users].mean()) for g in per_strength]
        chosen.append(grid[int(np.argmax(means))])
    return chosen
