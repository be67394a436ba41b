r"""DP-ALS as the runtime releases it: one instance's statistics, scaled at home so that the
committee's ONE Gaussian gives every block its own noise, and the public item solve.

The runtime's user-level round (:mod:`mpcrec.node.user_dp`, docs/privacy-accounting.md)
adds ``N(0, (z C_u)^2)`` (each member's share) to the SUM of the instances' vectors and
accounts for it as a Gaussian of multiplier ``z`` at sensitivity ``C_u``: one user's whole
history, added or removed. DP-ALS's statistics (:func:`~mpcrec.model.dpals.local_statistics`)
are blocks of different sensitivities, each with a chosen share of the budget. So every
instance multiplies block ``b`` by

``a_b = C_u * sqrt(f_b) / D_b``

(``D_b`` the block's add/remove sensitivity: :func:`user_sensitivities`, ``f_b`` its
fraction of the budget, ``sum_b f_b = 1``: :func:`fractions`). One user then moves the
scaled vector by at most ``sqrt(sum_b a_b^2 D_b^2) = C_u`` (L2), and the committee's noise
``z C_u`` on it is noise ``z D_b / sqrt(f_b)`` on block ``b`` once unscaled
(:func:`release_sigmas`): the same split of ``1 / z^2`` as
:func:`~mpcrec.model.dpals.block_sigmas`, at add/remove sensitivity (the simulation's
``block_sigmas`` uses replace-one, twice these: conservative by a factor 2 in ``z``).

The global-Gram solve needs the number of users (``G_i ~ m_i * gram / n``). It is released
under the same mechanism: one more block, ``users``, to which every user adds 1 (sensitivity
1, fraction :data:`USERS_SHARE`). Nothing else the solve uses is private: the settings are
:data:`~mpcrec.model.tuned_dpals.ALS_DP` (code, public) at the model's dimension, after a
count release (:mod:`mpcrec.model.dpals_counts`), or ``ALS_DP_ONE_RELEASE`` without one.
The settings' metadata smoothing is post-processing of the same release: the released masses and
the items' public metadata features (:func:`published_items`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mpcrec.errors import ConfigError
from mpcrec.model.dpals import (
    BLOCKS,
    ALSConfig,
    block_sizes,
    cut_tail,
    local_statistics,
    payload_size,
    sensitivities,
    solve_items,
    unpack,
)
from mpcrec.model.dpals_smooth import fixed_order_smooth
from mpcrec.model.mf import Matrix
from mpcrec.model.tuned_dpals import ALS_DP, ALS_DP_ONE_RELEASE

#: The fraction of every round's budget spent on the number of users (the rest is split
#: over the statistics as the settings' ``shares`` say): ``n`` comes out within about
#: ``10 z sqrt(k)`` of its value (k members), far inside what the solve needs.
USERS_SHARE = 0.01
USERS = "users"


def runtime_config(dim: int, counts: bool = False) -> ALSConfig:
    """The DP-ALS settings every node and member uses at dimension ``dim``: ``ALS_DP`` when
    the federation runs the count release first (``counts``: a ``count_noise_multiplier``,
    :mod:`mpcrec.model.dpals_counts`), ``ALS_DP_ONE_RELEASE`` otherwise (a federation of
    one release, as before 2026-12-02). :class:`ConfigError` for settings the runtime
    cannot release (tail weights or a popularity term by the counts)."""
    config = replace(ALS_DP if counts else ALS_DP_ONE_RELEASE, dim=dim)
    if config.tail_exponent or config.popularity_weight or config.releases_counts != counts:
        raise ConfigError(
            "the runtime's DP-ALS releases item counts only for a head of the catalogue "
            f"(tail_exponent {config.tail_exponent:g}, head_items {config.head_items}, "
            f"popularity_weight {config.popularity_weight:g}, count round {counts})",
            hint="set them to 0 in mpcrec/model/tuned_dpals.py",
        )
    share = dict(zip(BLOCKS, config.shares, strict=True))
    if any(share[b] <= 0 for b in config.blocks()):
        raise ConfigError(
            f"every block the solve reads needs a positive share (shares {config.shares})"
        )
    return config


def release_size(n_items: int, dim: int) -> int:
    """Values in one instance's DP-ALS contribution: the statistics and the user count
    (the same with or without a head: it does not change the blocks' sizes)."""
    return payload_size(runtime_config(dim), n_items) + 1


def release_blocks(config: ALSConfig, n_items: int) -> dict[str, int]:
    """Length of every block of a contribution, in order (the statistics, then ``users``)."""
    return {**block_sizes(config, n_items), USERS: 1}


def user_sensitivities(config: ALSConfig) -> dict[str, float]:
    """Add/remove L2 sensitivity of every block to one user's whole history: half the
    replace-one :func:`~mpcrec.model.dpals.sensitivities`; 1 for the user count."""
    return {**{b: d / 2.0 for b, d in sensitivities(config).items()}, USERS: 1.0}


def fractions(config: ALSConfig) -> dict[str, float]:
    """Each block's fraction of the round's ``1 / z^2`` (summing to 1)."""
    share = dict(zip(BLOCKS, config.shares, strict=True))
    total = sum(share[b] for b in config.blocks())
    out = {b: (1.0 - USERS_SHARE) * share[b] / total for b in config.blocks()}
    return {**out, USERS: USERS_SHARE}


def scales(config: ALSConfig, user_clip_norm: float) -> dict[str, float]:
    """``a_b = C_u sqrt(f_b) / D_b``: one user moves the scaled vector by at most ``C_u``."""
    delta, frac = user_sensitivities(config), fractions(config)
    return {b: user_clip_norm * float(np.sqrt(frac[b])) / delta[b] for b in frac}


def release_sigmas(noise_multiplier: float, config: ALSConfig) -> dict[str, float]:
    """The noise std on every unscaled block when the sum gets ``N(0, (z C_u)^2)``."""
    delta, frac = user_sensitivities(config), fractions(config)
    return {b: noise_multiplier * delta[b] / float(np.sqrt(frac[b])) for b in frac}


def _blockwise(flat: Matrix, factor: dict[str, float], config: ALSConfig, n_items: int) -> Matrix:
    """``flat`` with block ``b`` multiplied by ``factor[b]``."""
    out = np.asarray(flat, dtype=np.float64).copy()
    start = 0
    for name, size in release_blocks(config, n_items).items():
        out[start : start + size] *= factor[name]
        start += size
    if start != out.shape[0]:
        raise ValueError(f"{out.shape[0]} values is not a DP-ALS release of {n_items} items")
    return out


def instance_release(
    bounded: Matrix, weights: Matrix, config: ALSConfig, user_clip_norm: float
) -> Matrix:
    """One instance's contribution: its users' statistics and their count, scaled.

    Parameters
    ----------
    bounded:
        ``(n, d)`` user factors of norm at most ``B`` (:func:`~mpcrec.model.dpals.bound_users`).
    weights:
        ``(n, n_items)`` statistic weights, unit L2 per user.
    user_clip_norm:
        ``C_u``: the L2 bound of one user's part of the result.
    """
    stats = local_statistics(bounded, weights, config)
    flat = np.concatenate([stats, [float(bounded.shape[0])]])
    return _blockwise(flat, scales(config, user_clip_norm), config, weights.shape[1])


def unscaled(total: Matrix, config: ALSConfig, n_items: int, user_clip_norm: float) -> Matrix:
    """A (noisy) sum of contributions back in the statistics' units, the count last."""
    inverse = {b: 1.0 / a for b, a in scales(config, user_clip_norm).items()}
    return _blockwise(total, inverse, config, n_items)


def published_items(
    total: Matrix,
    config: ALSConfig,
    n_items: int,
    user_clip_norm: float,
    features: Matrix | None = None,
    head: np.ndarray | None = None,
) -> Matrix:
    """The public item factors from the revealed (noisy) sum: ``solve_items`` on the
    unscaled statistics with the released user count (at least 1), then, as the
    simulation's :func:`~mpcrec.model.dpals_train.post_process`: with a ``head`` (the
    published head of a count release) the masses outside it at 0; when the settings smooth
    (``config.smoothing``), the metadata smoothing (:func:`~mpcrec.model.dpals.smooth_items`)
    by those masses and the items' public ``features``, in a fixed order
    (:func:`~mpcrec.model.dpals_smooth.fixed_order_smooth`); the rows outside the head at 0;
    and the settings' ``tail_cut`` (:func:`~mpcrec.model.dpals.cut_tail`: same masses).
    """
    flat = unscaled(total, config, n_items, user_clip_norm)
    n_users = max(round(float(flat[-1])), 1)
    items = solve_items(flat[:-1], n_users, config)
    mass = unpack(flat[:-1], config)["mass"]
    if head is not None:
        mass = np.where(head, mass, 0.0)
    if config.smoothing:
        if features is None:
            raise ValueError("the DP-ALS settings smooth by public metadata: features needed")
        items = fixed_order_smooth(
            items, mass, features, strength=config.smoothing, lam=config.smoothing_reg
        )
    if head is not None:
        items = np.where(head[:, None], items, 0.0)
    return cut_tail(items, mass, config.tail_cut)
