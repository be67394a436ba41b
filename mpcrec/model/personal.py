r"""A model personal to each instance, fitted at home on top of the shared ALS model.

An instance holds the public item factors ``V`` (of :mod:`mpcrec.model.dpals_train`) and its
own users' confidences. It fits its own item factors, pulled toward the shared ones:

    V_k = argmin  sum_{u in k} [ sum_i c_ui (1 - u.v_i)^2 + w0 sum_i (u.v_i)^2 ]
                  + lam_p sum_i ||v_i - V_i||^2

i.e. ``v_i = (sum_u c_ui u u^T + w0 U_k^T U_k + lam_p I)^-1 (sum_u c_ui u + lam_p V_i)``,
alternated with the exact user solve (:func:`~mpcrec.model.dpals.solve_users`) ``sweeps``
times. ``lam_p = inf`` is the shared model itself. The other kind of candidate is a mixture
of the shared model with a plain ALS fitted on the instance's users alone
(:func:`local_model`), ``(1 - a) * shared + a * local`` on per-user standardised scores.
Each instance compares one of the offsets or mixtures with the shared model on its OWN
users' validation items (:func:`mpcrec.model.personal_rule.choose`: a size floor, a gain
beyond ``z`` standard errors, a mixture weight shrunk by size; the rule itself picked by
replaying the protocol one item earlier, :func:`mpcrec.model.personal_rule.pick_rule`);
nothing leaves the instance, so the shared model's privacy guarantee toward other
instances is unchanged (what one user's recommendations reveal about
another user of the SAME instance is not covered by it: the instance holds both
histories anyway).
"""

from __future__ import annotations

import math

import numpy as np

from mpcrec.data.interactions import IntArray
from mpcrec.data.split import Split
from mpcrec.model.dpals import ALSConfig, solve_users
from mpcrec.model.dpals_train import Home
from mpcrec.model.metrics import exclusion_mask
from mpcrec.model.mf import Matrix
from mpcrec.model.personal_rule import CAPS, SHRINKS, choose, shrunk_name, shrunk_weight

__all__ = ["candidate_scores", "choose", "local_model", "personal_items", "user_gains"]

STRENGTHS = (math.inf, 100.0, 30.0, 10.0)
"""The grid of ``lam_p`` an instance chooses from (``inf``: the shared model)."""
MIXES = (0.1, 0.25, 0.5, 0.75, 1.0)
"""The weights of the local model in the mixture an instance chooses from."""


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


def local_model(conf: Matrix, config: ALSConfig, rng: np.random.Generator) -> tuple[Matrix, Matrix]:
    """A plain implicit ALS on the instance's own users only (noiseless: it stays home)."""
    d = config.dim
    items = rng.normal(0.0, config.init_std, size=(conf.shape[1], d))
    users = solve_users(items, conf, config)
    for _ in range(config.iterations):
        outer = np.einsum("ud,ue->ude", users, users).reshape(users.shape[0], d * d)
        lhs = (conf.T @ outer).reshape(-1, d, d)
        lhs += config.unobserved * (users.T @ users) + config.reg * np.eye(d)
        items = np.linalg.solve(lhs, (conf.T @ users)[..., None])[..., 0]
        users = solve_users(items, conf, config)
    return items, users


def standardised(scores: Matrix) -> Matrix:
    """Every row centred and scaled to unit standard deviation (mixable across models)."""
    centred = scores - scores.mean(axis=1, keepdims=True)
    return np.asarray(centred / np.maximum(centred.std(axis=1, keepdims=True), 1e-12))


def candidate_scores(
    shared: Matrix, home: Home, config: ALSConfig, local: tuple[Matrix, Matrix]
) -> dict[str, Matrix]:
    """The instance's candidate models' scores for its users, keyed by name.

    ``shared``; ``offset lam`` (:func:`personal_items` at each of :data:`STRENGTHS`);
    ``mix a``: ``(1 - a) * shared + a * local``, both standardised per user, at each of
    :data:`MIXES` and at the shrunk weights ``min(n / (n + n0), cap)`` of this instance's
    ``n`` users (:func:`~mpcrec.model.personal_rule.shrunk_name`, every ``n0`` of
    :data:`~mpcrec.model.personal_rule.SHRINKS` and cap of ``CAPS``).
    """
    out: dict[str, Matrix] = {}
    base = None
    for strength in STRENGTHS:
        items, users = personal_items(shared, home.conf, config, strength)
        name = "shared" if math.isinf(strength) else f"offset {strength:g}"
        out[name] = users @ items.T
        if base is None:
            base = standardised(out[name])
    assert base is not None
    own = standardised(local[1] @ local[0].T)
    for weight in MIXES:
        out[f"mix {weight:g}"] = (1.0 - weight) * base + weight * own
    for shrink in SHRINKS:
        for cap in CAPS:
            weight = shrunk_weight(home.conf.shape[0], shrink, cap)
            out[shrunk_name(shrink, cap)] = (1.0 - weight) * base + weight * own
    return out


def user_gains(split: Split, scores: Matrix, users: IntArray, stage: str) -> Matrix:
    """NDCG@10 on ``stage`` of each of ``users`` (global indices) under their ``scores``.

    The ranking of :func:`~mpcrec.model.metrics.rank_held_out`, for these users only.
    """
    if stage == "valid" and split.valid_in_train:
        raise ValueError("a whole-past split trains on the validation item: tune on leave_last_out")
    target = (split.valid_item if stage == "valid" else split.test_item)[users]
    ranked = np.array(scores, dtype=np.float64)
    ranked[exclusion_mask(split, users, stage=stage)] = -np.inf
    rows = np.arange(users.shape[0])
    held = ranked[rows, target].copy()
    ranked[rows, target] = -np.inf
    ranks = np.sum(ranked >= held[:, None], axis=1)
    return np.asarray(np.where(ranks < 10, 1.0 / np.log2(ranks + 2.0), 0.0))
