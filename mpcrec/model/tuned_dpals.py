"""DP-ALS settings chosen on the validation item of ML-100k's leave-last-out view
(coordinate search, seeds 0-2 of partition and noise; docs/model.md "DP-ALS")."""

from __future__ import annotations

from dataclasses import replace

from mpcrec.model.dpals import ALSConfig

ALS_DP_ONE_RELEASE = ALSConfig(
    dim=8,
    iterations=1,
    reg=15.0,
    unobserved=0.003,
    user_reg=0.3,
    user_unobserved=1.0,
    max_items=0,
    item_gram="global",
    init="metadata",
    init_std=0.06,
    shares=(0.0, 0.9, 0.08, 0.02),
    smoothing=3.0,
    smoothing_reg=10.0,
)
"""The one-release ``dpals`` (``ALS_DP`` until 2026-12-02; what the runtime runs without a
count release: an older launcher, a given noise multiplier, a user rate below 1,
:func:`~mpcrec.model.dpals_release.runtime_config`).

The budget shares of the right-hand sides, masses and global Gram (0.9 / 0.08 / 0.02;
before: 0.6 / 0.05 / 0.05 of a 0.7 total) and the metadata smoothing of the released item
factors (:func:`~mpcrec.model.dpals.smooth_items`, public post-processing) were added on
2026-12-01 by validation on seeds 0-5 (docs/model.md "DP-ALS")."""

ALS_DP = replace(ALS_DP_ONE_RELEASE, head_items=300, count_share=0.05, reg=30.0)
"""``dpals`` (tuned at user-level ε = 8, δ = 1e-5; the same settings at every ε): the
catalogue trained and served is the top 300 of a noisy item-count release (5 % of the
budget), the rest buys the one release of statistics of :data:`ALS_DP_ONE_RELEASE`, solved
with ``reg`` 30 instead of 15; chosen on 2026-12-02 by validation on ten paired noise draws
(docs/benchmarks/quality.md "Head of the catalogue")."""

ALS_PLAIN = ALSConfig(
    dim=32,
    iterations=5,
    reg=3.0,
    unobserved=0.3,
    user_reg=10.0,
    user_unobserved=0.3,
    recency_boost=20.0,
    item_gram="per-item",
)
"""``als_plain``: the same algorithm without noise (tuned without noise)."""
