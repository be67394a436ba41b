"""The default demo's DP-ALS round over many noise draws, with and without the members'
metadata smoothing (paired: the same draw for both), with the runtime's own functions.

    python benchmarks/dpals_demo_noise_spread.py SEEDS OUT.json

Partition 0 of ML-100k into 20 instances (the demo's), the public metadata start, every
instance's :func:`~mpcrec.model.dpals_release.instance_release` summed, plus the three
members' ``N(0, (z C_u)^2)`` each (z = the demo's 0.6377 at ε = 8), then
:func:`~mpcrec.model.dpals_release.published_items` (what a member publishes) and every
user solved at home from it, as the demo's report does. Test NDCG@10 per seed, and the
same without noise.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console

from mpcrec.bench.report import metric_table, write_json
from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import partition_users
from mpcrec.data.split import leave_last_out
from mpcrec.demo_dpals import USER_CLIP_NORM, home_factors, initial_items
from mpcrec.model.dpals import bound_users, solve_users
from mpcrec.model.dpals_release import instance_release, published_items, runtime_config
from mpcrec.model.dpals_train import Home, metadata_features
from mpcrec.model.metrics import evaluate
from mpcrec.model.mf import Factors

NOISE_MULTIPLIER, MEMBERS, INSTANCES = 0.6377, 3, 20


def main(argv: list[str]) -> int:
    """Print the table and write the JSON of ``SEEDS`` paired noise draws."""
    seeds, out = int(argv[0]), Path(argv[1])
    data = load_movielens_100k()
    split = leave_last_out(data)
    partition = partition_users(data, INSTANCES, seed=0)
    config = runtime_config(8)
    settings = {"smoothed": config, "unsmoothed": replace(config, smoothing=0.0)}
    base = initial_items(split)
    total = np.zeros(0)
    for k in range(INSTANCES):
        home = Home.create(split, partition.members(k), config)
        users = bound_users(solve_users(base, home.conf, config), config.user_norm)
        part = instance_release(users, home.weights(config, None), config, USER_CLIP_NORM)
        total = part if total.size == 0 else total + part
    features = metadata_features(split, words=config.smoothing_words)

    def ndcg(noisy: np.ndarray) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, cfg in settings.items():
            items = published_items(noisy, cfg, split.n_items, USER_CLIP_NORM, features)
            users = home_factors(split, partition, items)
            out[name] = evaluate(Factors(users, items).scores, split)["ndcg@10"]
        return out

    per_seed = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        sigma = NOISE_MULTIPLIER * USER_CLIP_NORM
        noise = sum(rng.normal(0.0, sigma, total.shape) for _ in range(MEMBERS))
        per_seed.append(ndcg(total + noise))
    table = {name: np.array([row[name] for row in per_seed]) for name in settings}
    diff = table["smoothed"] - table["unsmoothed"]
    result = {
        "noise_seeds": seeds,
        "without_noise": ndcg(total),
        "per_seed": per_seed,
        **{
            name: {"mean": v.mean(), "sd": v.std(ddof=1), "min": v.min(), "max": v.max()}
            for name, v in table.items()
        },
        "paired_difference_mean": diff.mean(),
        "smoothed_better": int((diff > 0).sum()),
        "load_average": list(os.getloadavg()),
    }
    rows = [(f"{n}: mean (sd), min to max", _summary(v)) for n, v in table.items()]
    rows += [("paired difference, smoothed better", f"{diff.mean():+.4f}, {(diff > 0).sum()}")]
    rows += [(f"without noise, {n}", f"{v:.4f}") for n, v in result["without_noise"].items()]
    Console().print(metric_table(f"DP-ALS demo round, {seeds} noise draws", rows))
    write_json(out, {k: _plain(v) for k, v in result.items()})
    return 0


def _summary(values: np.ndarray) -> str:
    """``mean (sd), min to max`` to 4 digits."""
    sd = values.std(ddof=1)
    return f"{values.mean():.4f} ({sd:.4f}), {values.min():.4f} to {values.max():.4f}"


def _plain(value: object) -> object:
    """``value`` with numpy scalars as Python floats (for JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return float(value) if isinstance(value, np.floating) else value


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
