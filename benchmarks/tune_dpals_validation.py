"""DP-ALS settings on the VALIDATION item only (the training-only, leave-last-out view).

    python benchmarks/tune_dpals_validation.py EPSILON SEEDS 'JSON list of overrides'

e.g. ``... 8 0,1,2 '[{}, {"smoothing": 3.0}]'``: for each override of
:data:`mpcrec.model.tuned_dpals.ALS_DP`, trains DP-ALS at user-level ``EPSILON`` (δ = 1e-5)
on ``leave_last_out`` for every seed (partition and noise) and prints the mean, standard
deviation and per-seed validation NDCG@10, and its paired difference to the FIRST override
(mean ± standard error over the seeds). Never touches the test item. Every variant uses the
same seeds, so the noise draws are paired across variants (a count release draws from its
own stream: :func:`mpcrec.model.dpals_train.train_dpals`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace

import numpy as np

from mpcrec.bench.quality_dp import calibrate
from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import partition_users
from mpcrec.data.split import leave_last_out
from mpcrec.model.dpals_train import train_dpals
from mpcrec.model.metrics import evaluate
from mpcrec.model.tuned_dpals import ALS_DP


def main(argv: list[str]) -> int:
    """Print one line per override: its validation NDCG@10 over the seeds."""
    epsilon, seeds = float(argv[0]), [int(s) for s in argv[1].split(",")]
    data = load_movielens_100k()
    split = leave_last_out(data)
    first: np.ndarray | None = None
    for override in json.loads(argv[2]):
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in override.items()}
        config = replace(ALS_DP, **fields)
        values = []
        for seed in seeds:
            partition = partition_users(data, 20, seed=seed)
            privacy = calibrate(config, epsilon)
            model = train_dpals(split, partition, config, privacy=privacy, seed=seed)
            values.append(evaluate(model.scores, split, stage="valid")["ndcg@10"])
        per_seed = [round(v, 4) for v in values]
        first = np.array(values) if first is None else first
        diff = np.array(values) - first
        error = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
        paired = f"paired {np.mean(diff):+.4f} ± {error:.4f}"
        spread = f"{np.mean(values):.4f} ± {np.std(values):.4f}"
        print(json.dumps(override), spread, paired, per_seed, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
