"""EASE alone from a noisy, per-user-capped co-view Gram: one Gaussian release at rate 1.

    python benchmarks/ease_dp_gram.py OUT.json

Exploratory (issue 16, the Gram release under user-level DP; docs/privacy-accounting.md):
ML-100k's leave-last-out view (the demo's), each user's Gram contribution capped to their
``m`` most recent items (:func:`mpcrec.model.item_gram.capped_rows`, sensitivity
``sqrt(m (m + 1) / 2)``), the whole budget ``epsilon`` (delta 1e-5, exact GDP: one release,
``z = 1 / mu``) on the Gram alone, symmetric Gaussian noise on the upper triangle, EASE
solved at three lambdas; viewers score from their own uncapped history (the cap bounds the
release only). One noise draw (generator 0), the test item: a first look, not a tuned
result (the lambdas are compared on the test item).
"""

from __future__ import annotations

import json
import sys

import numpy as np

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.split import leave_last_out
from mpcrec.model.item_gram import (
    capped_rows,
    ease_viewer_scorer,
    ease_weights,
    user_sensitivity,
    viewed,
)
from mpcrec.model.metrics import evaluate
from mpcrec.privacy.gdp import gdp_mu

EPSILONS = (float("inf"), 16.0, 8.0, 4.0)
CAPS = (20, 50, 100)
LAMBDAS = (100.0, 500.0, 2000.0)


def main(out: str) -> None:
    split = leave_last_out(load_movielens_100k())
    full = viewed(split)
    rows_out = []
    rng = np.random.default_rng(0)
    for eps in EPSILONS:
        z = 0.0 if eps == float("inf") else 1.0 / gdp_mu(eps, 1e-5)
        for m in (None,) if z == 0.0 else CAPS:
            rows = full if m is None else capped_rows(split, m)
            gram = rows.T @ rows
            if m is not None:
                noise = np.triu(rng.normal(0.0, z * user_sensitivity(m), gram.shape))
                gram = gram + noise + np.triu(noise, 1).T
            for lam in LAMBDAS:
                ndcg = evaluate(ease_viewer_scorer(split, ease_weights(gram, lam)), split)
                row = {"epsilon": eps, "z": z, "max_items": m, "lambda": lam}
                rows_out.append(row | {"ndcg@10": round(ndcg["ndcg@10"], 4)})
                print(rows_out[-1], flush=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(rows_out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
