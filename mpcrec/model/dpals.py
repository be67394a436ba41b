r"""Private alternating least squares (DP-ALS): the pure steps of one round.

Implicit-feedback ALS (Hu, Koren and Volinsky, ICDM 2008; the weighted form of Rendle et
al., "Revisiting the Performance of iALS", RecSys 2022) under joint, user-level DP
(Chien et al., ICML 2021, "Private Alternating Least Squares"; Krichene et al., ICML 2023,
"Multi-Task Differential Privacy Under Distribution Skew"). A user scores item ``i`` as
``u . v_i``; user factors ``u`` never leave their instance and are solved exactly there;
item factors ``V`` are public and come from noisy sums. One round:

1. every instance solves its users at home from the public ``V``
   (:func:`solve_users`), bounds each to L2 norm ``B`` (:func:`bound_users`) and computes
   ONE flat vector of sufficient statistics of its users (:func:`local_statistics`);
2. the committee sums the vectors and adds Gaussian noise (:func:`add_noise`: the secure
   round's job);
3. anyone solves the new ``V`` from the noisy sum (:func:`solve_items`: public).

The statistics, with ``w_ui`` the weight of user ``u``'s event on item ``i``:

* per-item Gram ``G_i = sum_u w_ui u u^T`` (upper triangle; ``item_gram="per-item"``);
* per-item right-hand side ``b_i = sum_u w_ui u`` (every observed ``r_ui = 1``);
* per-item mass ``m_i = sum_u w_ui`` (``item_gram="global"``: ``G_i ~ m_i * gram / n``);
* the global Gram ``gram = sum_u u u^T`` (the unobserved term of implicit ALS).

The new item factor is ``v_i = (G_i + w0 * gram + lam I)^-1 b_i`` (the Gram part projected
on the positive semi-definite cone first, since noise can break it).

Sensitivity: the weights are bounded per user, ``sum_i w_ui^2 <= 1`` (at most
``max_items`` items, recency- and tail-shaped, then L2-normalised: :func:`statistic_weights`)
and ``||u|| <= B``, so adding or removing one user's whole history moves the per-item Grams
by at most ``B^2`` (Frobenius over all items), the right-hand sides by ``B``, the masses by
1 and the global Gram by ``B^2``, each in L2. The repo's adjacency is replace-one
(docs/privacy-accounting.md), twice those: :func:`sensitivities`. Each block gets its own
noise; the round is then one Gaussian mechanism of noise multiplier
``z = (sum_b (Delta_b / sigma_b)^2)^(-1/2)`` (:func:`block_sigmas` inverts this for chosen
shares), which :mod:`mpcrec.privacy.accountant` accounts for.
"""

from __future__ import annotations

import numpy as np

from mpcrec.model.dpals_config import BLOCKS, INITS, ITEM_GRAMS, ALSConfig
from mpcrec.model.mf import Matrix

__all__ = ["BLOCKS", "INITS", "ITEM_GRAMS", "ALSConfig"]


def triangle(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the upper triangle (diagonal included) of a ``dim^2``."""
    return np.triu_indices(dim)


def block_sizes(config: ALSConfig, n_items: int) -> dict[str, int]:
    """Length of every block of the flat statistics vector, in order."""
    tri = config.dim * (config.dim + 1) // 2
    size = {"gram": n_items * tri, "rhs": n_items * config.dim, "mass": n_items, "global": tri}
    return {name: size[name] for name in config.blocks()}


def payload_size(config: ALSConfig, n_items: int) -> int:
    """Values per instance per round: what the secure round sums."""
    return sum(block_sizes(config, n_items).values())


def confidences(ages: np.ndarray, config: ALSConfig) -> Matrix:
    """Per-event confidence ``1 + boost * 0.5 ** (age / half_life)`` (the home solve's)."""
    decay = np.exp2(-np.asarray(ages, dtype=np.float64) / config.recency_half_life)
    return np.asarray(1.0 + config.recency_boost * decay, dtype=np.float64)


def statistic_weights(
    users: np.ndarray,
    items: np.ndarray,
    ages: np.ndarray,
    n_users: int,
    config: ALSConfig,
    item_counts: np.ndarray | None = None,
) -> Matrix:
    """Per-event weight in the statistics, with ``sum_i w_ui^2 <= 1`` for every user.

    Recency confidence times ``max(count_i, 1) ** -tail_exponent``; events of age
    ``>= max_items`` or (``head_items``) on an item outside the top of the counts get 0;
    then every user's weights are scaled to unit L2 norm, of their sums per item when an
    item repeats (the statistics add a user's events on one item: :func:`dense`). Computed
    at home from the user's own events and public counts only.
    """
    weight = confidences(ages, config)
    if item_counts is not None and config.tail_exponent:
        weight = weight * np.maximum(item_counts[items], 1.0) ** -config.tail_exponent
    if item_counts is not None and config.head_items:
        weight = weight * top_items(item_counts, config.head_items)[items]
    if config.max_items:
        weight = np.where(np.asarray(ages) < config.max_items, weight, 0.0)
    norm2 = np.bincount(users, weights=weight**2, minlength=n_users)
    pairs, first, inverse = np.unique(
        np.stack([users, items], axis=1), axis=0, return_index=True, return_inverse=True
    )
    if pairs.shape[0] < users.shape[0]:  # repeated events: the statistics sum them per item
        per_item = np.bincount(inverse.ravel(), weights=weight)
        norm2 = np.bincount(users[first], weights=per_item**2, minlength=n_users)
    scale = 1.0 / np.sqrt(np.maximum(norm2, 1e-300))
    return np.asarray(weight * scale[users], dtype=np.float64)


def dense(
    users: np.ndarray, items: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> Matrix:
    """The ``(n_users, n_items)`` matrix with ``values`` at ``(users, items)`` (summed)."""
    out = np.zeros(shape, dtype=np.float64)
    np.add.at(out, (users, items), values)
    return out


def solve_users(item_factors: Matrix, conf: Matrix, config: ALSConfig) -> Matrix:
    """Exact implicit-ALS user factors at home: one row per row of ``conf``.

    ``u = (V^T diag(c_u) V + w0 V^T V + lam I)^-1 V^T c_u`` with ``c_u`` the user's
    confidences over all items (0 where unobserved).
    With ``item_bias`` the last coordinate is fixed to 1 and the others solve
    ``(...) u' = V'^T (c_u * (1 - b)) - w0 V'^T b``, ``b = V[:, -1]``.
    """
    v = item_factors[:, :-1] if config.item_bias else item_factors
    d = v.shape[1]
    outer = np.einsum("id,ie->ide", v, v).reshape(v.shape[0], d * d)
    base = config.user_unobserved * (v.T @ v) + config.user_reg * np.eye(d)
    lhs = (conf @ outer).reshape(conf.shape[0], d, d) + base
    if config.item_bias:
        bias = item_factors[:, -1]
        rhs = (conf * (1.0 - bias)) @ v - config.user_unobserved * (v.T @ bias)
    else:
        rhs = conf @ v
    solved = np.linalg.solve(lhs, rhs[..., None])[..., 0]
    if config.item_bias:
        solved = np.concatenate([solved, np.ones((solved.shape[0], 1))], axis=1)
    return np.asarray(solved, dtype=np.float64)


def bound_users(user_factors: Matrix, norm: float) -> Matrix:
    """Every row scaled down to L2 norm at most ``norm`` (rows within it unchanged)."""
    lengths = np.linalg.norm(user_factors, axis=1, keepdims=True)
    return np.asarray(user_factors * np.minimum(1.0, norm / np.maximum(lengths, 1e-300)))


def local_statistics(bounded: Matrix, weights: Matrix, config: ALSConfig) -> Matrix:
    """One instance's flat sufficient statistics (the vector the secure round sums).

    Parameters
    ----------
    bounded:
        ``(n, d)`` user factors, each of norm at most ``B`` (:func:`bound_users`).
    weights:
        ``(n, n_items)`` statistic weights (:func:`statistic_weights`, made dense).
    """
    n_items = weights.shape[1]
    d = bounded.shape[1]
    parts: dict[str, Matrix] = {}
    if "gram" in config.blocks():
        rows, cols = triangle(d)
        outer = np.einsum("ud,ue->ude", bounded, bounded)[:, rows, cols]
        parts["gram"] = weights.T @ outer
    parts["rhs"] = weights.T @ bounded
    parts["mass"] = weights.sum(axis=0)
    rows, cols = triangle(d)
    parts["global"] = (bounded.T @ bounded)[rows, cols]
    flat = [np.asarray(parts[b], dtype=np.float64).ravel() for b in config.blocks()]
    out = np.concatenate(flat)
    assert out.shape[0] == payload_size(config, n_items)
    return out


def sensitivities(config: ALSConfig) -> dict[str, float]:
    """Replace-one L2 sensitivity of every block of one user's statistics."""
    b = config.user_norm
    return {"gram": 2.0 * b * b, "rhs": 2.0 * b, "mass": 2.0, "global": 2.0 * b * b}


def block_sigmas(noise_multiplier: float, config: ALSConfig) -> dict[str, float]:
    """Noise std per block such that the round is a Gaussian of ``noise_multiplier``.

    Block ``b`` gets the fraction ``share_b / sum(shares)`` of ``1 / z^2``:
    ``sigma_b = Delta_b * z / sqrt(fraction_b)``; a zero share gets no budget (infinite
    noise: use it only for a block the solve ignores).
    """
    blocks = config.blocks()
    share = dict(zip(BLOCKS, config.shares, strict=True))
    total = sum(share[b] for b in blocks)
    delta = sensitivities(config)
    out = {}
    for b in blocks:
        fraction = share[b] / total
        out[b] = np.inf if fraction == 0 else delta[b] * noise_multiplier / np.sqrt(fraction)
    return out


def effective_noise_multiplier(sigmas: dict[str, float], config: ALSConfig) -> float:
    """``(sum_b (Delta_b / sigma_b)^2)^(-1/2)``: the round as one Gaussian mechanism."""
    delta = sensitivities(config)
    inverse = sum((delta[b] / s) ** 2 for b, s in sigmas.items() if s > 0)
    return float("inf") if inverse == 0 else float(inverse**-0.5)


def add_noise(
    total: Matrix, sigmas: dict[str, float], config: ALSConfig, rng: np.random.Generator
) -> Matrix:
    """``total`` plus independent Gaussian noise of std ``sigmas[b]`` on block ``b``."""
    n_items = _n_items(total.shape[0], config)
    out = total.copy()
    start = 0
    for name, size in block_sizes(config, n_items).items():
        if sigmas[name] > 0:
            out[start : start + size] += rng.normal(0.0, sigmas[name], size=size)
        start += size
    return out


def unpack(flat: Matrix, config: ALSConfig) -> dict[str, Matrix]:
    """The blocks of a statistics vector; Grams as full symmetric ``d x d`` matrices."""
    d = config.dim
    n_items = _n_items(flat.shape[0], config)
    rows, cols = triangle(d)
    out: dict[str, Matrix] = {}
    start = 0
    for name, size in block_sizes(config, n_items).items():
        part = flat[start : start + size]
        start += size
        if name in ("gram", "global"):
            upper = np.zeros((size // len(rows), d, d))
            upper[:, rows, cols] = part.reshape(-1, len(rows))
            sym = upper + np.swapaxes(upper, 1, 2)
            sym[:, np.arange(d), np.arange(d)] /= 2.0
            out[name] = sym if name == "gram" else sym[0]
        else:
            out[name] = part.reshape(n_items, -1) if name == "rhs" else part
    return out


def solve_items(
    noisy: Matrix, n_users: int, config: ALSConfig, *, prior: Matrix | None = None
) -> Matrix:
    """Item factors from the (noisy) summed statistics: public, no data needed.

    ``v_i = (P(G_i + w0 gram) + lam I)^-1 b_i``, ``P`` the projection on the positive
    semi-definite cone; with ``item_gram="global"``, ``G_i = max(m_i, 0) * gram / n_users``.
    With ``config.prior_reg = p > 0`` and a public ``prior`` (``(n_items, d)``, the
    metadata start), ``v_i = (P(...) + (lam + p) I)^-1 (b_i + p * prior_scale * prior_i)``:
    ridge toward the prior instead of toward 0.
    """
    part = unpack(noisy, config)
    gram = floor_gram(part["global"], config.gram_floor)
    if config.item_gram == "per-item":
        item_grams = part["gram"]
    else:
        item_grams = np.maximum(part["mass"], 0.0)[:, None, None] * (gram / n_users)
    rhs = part["rhs"]
    shrink = config.reg
    if config.prior_reg and prior is not None:
        if prior.shape != rhs.shape:
            raise ValueError(f"prior of shape {prior.shape}, item factors are {rhs.shape}")
        rhs = rhs + config.prior_reg * config.prior_scale * prior
        shrink = config.reg + config.prior_reg
    lhs = _psd(item_grams + config.unobserved * gram) + shrink * np.eye(config.dim)
    return np.asarray(np.linalg.solve(lhs, rhs[..., None])[..., 0], dtype=np.float64)


def smooth_items(
    items: Matrix, mass: Matrix, features: Matrix, *, strength: float, lam: float
) -> Matrix:
    """Item factors denoised by their public metadata (post-processing: no privacy cost).

    A ridge map ``W`` (intercept included) from the features to the factors is fitted with
    each item weighted by its noisy mass ``m_i^+ = max(m_i, 0)``:
    ``W = (F^T M F + lam I)^-1 F^T M V``; then ``v_i <- (m_i^+ v_i + s f_i W) / (m_i^+ + s)``
    (``s = strength``): a tail item, whose factor is mostly noise, takes what its metadata
    predicts; a head item keeps its own.
    """
    if items.shape[0] != features.shape[0] or mass.shape != (items.shape[0],):
        raise ValueError(
            f"{items.shape[0]} items, {features.shape[0]} feature rows, mass {mass.shape}"
        )
    weight = np.maximum(mass, 0.0)
    design = np.concatenate([features, np.ones((features.shape[0], 1))], axis=1)
    gram = (design * weight[:, None]).T @ design + lam * np.eye(design.shape[1])
    content_map = np.linalg.solve(gram, (design * weight[:, None]).T @ items)
    predicted = design @ content_map
    out = (weight[:, None] * items + strength * predicted) / (weight + strength)[:, None]
    return np.asarray(out, dtype=np.float64)


def top_items(values: Matrix, k: int) -> np.ndarray:
    """A mask of the ``k`` items of largest ``values`` (ties: the lower index first)."""
    keep = np.zeros(values.shape[0], dtype=bool)
    keep[np.argsort(-np.asarray(values), kind="stable")[:k]] = True
    return keep


def cut_tail(items: Matrix, mass: Matrix, keep: int) -> Matrix:
    """Rows outside the ``keep`` largest (noisy, released) masses set to 0 (0: unchanged).

    Post-processing of a release: a zero row scores 0 for every user, so those items rank
    after every item of positive score, and the served list comes from the head.
    """
    if not keep:
        return items
    return np.asarray(np.where(top_items(mass, keep)[:, None], items, 0.0), dtype=np.float64)


def floor_gram(gram: Matrix, floor: float) -> Matrix:
    """``gram`` with its eigenvalues raised to ``floor`` times the largest (0: unchanged)."""
    if not floor:
        return gram
    values, vectors = np.linalg.eigh(gram)
    values = np.maximum(values, floor * max(float(values.max()), 0.0))
    return np.asarray((vectors * values) @ vectors.T, dtype=np.float64)


def _psd(matrices: Matrix) -> Matrix:
    """Nearest positive semi-definite matrices (negative eigenvalues set to 0)."""
    values, vectors = np.linalg.eigh(matrices)
    return np.asarray(
        (vectors * np.maximum(values, 0.0)[..., None, :]) @ np.swapaxes(vectors, -1, -2)
    )


def _n_items(length: int, config: ALSConfig) -> int:
    """The number of items a statistics vector of ``length`` values describes."""
    tri = config.dim * (config.dim + 1) // 2
    per_item = config.dim + (tri if config.item_gram == "per-item" else 1)
    n_items, rest = divmod(length - tri, per_item)
    if rest or n_items < 1:
        raise ValueError(f"{length} values is not a statistics vector of dim {config.dim}")
    return n_items
