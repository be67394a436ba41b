"""DP-ALS in ``mpcrec bench quality``: ``als_plain`` and ``dpals`` (docs/model.md).

``dpals`` runs at the user-level ε of ``--epsilon`` (δ = 1e-5, replace-one, over the whole
training) and, with ``--curve``, at every ε of the curve beside ``fedavg_dp``;
``dpals_noiseless`` is the same run with the noise (and only the noise) switched off;
``als_plain`` is the same algorithm without noise at its own validated settings
(dimension 32, per-item Grams, five iterations). All report the values
per instance per round the secure round would sum (``payload_values``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from typing import Any

from mpcrec.bench.quality_methods import DELTA, Setting, Tick, Trainer
from mpcrec.data.partition import Partition
from mpcrec.model.dpals import ALSConfig, payload_size
from mpcrec.model.dpals_train import Privacy, train_dpals
from mpcrec.model.metrics import Scorer
from mpcrec.model.tuned_dpals import ALS_DP, ALS_PLAIN
from mpcrec.privacy.joint import split_budget

DP_METHODS = ("als_plain", "dpals_noiseless", "dpals")
CURVED = ("dpals",)
"""The methods ``--curve`` runs at every ε (besides ``fedavg_dp``)."""
DP_ROUNDS = {
    "als_plain": ALS_PLAIN.iterations,
    "dpals_noiseless": ALS_DP.iterations,
    "dpals": ALS_DP.iterations,
}


def dp_configs(epsilon: float) -> dict[str, Any]:
    """The settings of both methods for the report."""
    return {
        "als_plain": asdict(ALS_PLAIN),
        "dpals": {**asdict(ALS_DP), "target_epsilon": epsilon, "delta": DELTA},
    }


def calibrate(config: ALSConfig, epsilon: float, delta: float = DELTA) -> Privacy:
    """The noise of ``config`` for user-level ``epsilon`` over the whole training: every user
    in every release (sample rate 1), so calibrated on the exact curve
    (:func:`~mpcrec.privacy.joint.split_budget`, accountant ``gdp``), as the runtime is."""
    count_share = config.count_share if config.releases_counts else 0.0
    z_round, z_count, spent = split_budget(
        epsilon=epsilon, delta=delta, rounds=config.iterations, first_share=count_share
    )
    return Privacy(z_round, z_count, spent)


def _run(
    s: Setting, p: Partition, seed: int, tick: Tick, config: ALSConfig, epsilon: float
) -> tuple[Scorer, dict[str, Any]]:
    if config.init != "random" and s.split.train.item_meta is None:
        config = replace(config, init="random", smoothing=0.0)  # no public metadata
    privacy = calibrate(config, epsilon)
    model = train_dpals(s.split, p, config, privacy=privacy, seed=seed, on_round=tick)
    extra: dict[str, Any] = {"payload_values": payload_size(config, s.split.n_items)}
    if not math.isinf(epsilon):
        extra["epsilon"] = model.privacy.epsilon
        extra["noise_multiplier"] = model.privacy.round_multiplier
    return model.scores, extra


DP_TRAINERS: dict[str, Trainer] = {
    "als_plain": lambda s, p, seed, tick: _run(s, p, seed, tick, ALS_PLAIN, math.inf),
    "dpals_noiseless": lambda s, p, seed, tick: _run(s, p, seed, tick, ALS_DP, math.inf),
    "dpals": lambda s, p, seed, tick: _run(s, p, seed, tick, ALS_DP, s.epsilon),
}
