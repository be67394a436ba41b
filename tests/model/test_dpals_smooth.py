"""The members' metadata smoothing: the simulation's :func:`~mpcrec.model.dpals.smooth_items`
to float rounding, and the same bits (with the item solve before it: the whole of what a
``dpals`` member publishes) in processes of different BLAS thread counts."""

from __future__ import annotations

import hashlib

import numpy as np

from mpcrec.federation.spec import FederationSpec
from mpcrec.model.dpals import smooth_items
from mpcrec.model.dpals_smooth import fixed_order_smooth
from mpcrec.model.tuned_dpals import ALS_DP
from tests.determinism import digests_across_blas_threads

N_ITEMS, N_TAGS = 1682, 19  # ML-100k's catalogue and genres


def world(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Item factors, noisy masses (some negative) and genre-and-year features."""
    rng = np.random.default_rng(seed)
    features = (rng.random((N_ITEMS, N_TAGS + 1)) < 0.15).astype(np.float64)
    features[:, -1] = rng.normal(size=N_ITEMS)
    items = rng.normal(0.0, 0.1, size=(N_ITEMS, ALS_DP.dim))
    mass = rng.gamma(0.5, 4.0, size=N_ITEMS) - 0.5
    return items, mass, features


def test_the_fixed_order_smoothing_is_the_simulations() -> None:
    items, mass, features = world()
    ours = fixed_order_smooth(items, mass, features, strength=3.0, lam=10.0)
    theirs = smooth_items(items, mass, features, strength=3.0, lam=10.0)
    assert np.abs(ours - theirs).max() < 1e-12
    assert np.abs(ours - items).max() > 0.01  # it smooths


def published_digest() -> str:
    """SHA-256 of what a ``dpals`` member publishes (solve + smoothing) from a fixed
    revealed sum of ML-100k's size."""
    from mpcrec.node.aggregation.dpals_step import next_model

    spec = FederationSpec(
        n_items=N_ITEMS,
        dim=ALS_DP.dim,
        sensitivity="user",
        user_clip_norm=0.1,
        user_rate=1.0,
        model="dpals",
    )
    rng = np.random.default_rng(5)
    output = rng.normal(0.0, 1.0, size=spec.contribution_size)
    output[-1] = 900.0 * 0.1 / 3  # a released user count of about 900 (scaled, weight 1/3)
    _, _, features = world()
    published = next_model(spec, output, (1 / 3,) * 3, (N_ITEMS, ALS_DP.dim), lambda n: features)
    return hashlib.sha256(np.ascontiguousarray(published).tobytes()).hexdigest()


def test_every_member_publishes_the_same_bits() -> None:
    here = published_digest()
    seen = digests_across_blas_threads("tests.model.test_dpals_smooth", "published_digest")
    assert seen == {here}
