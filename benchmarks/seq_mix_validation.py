"""Choose ``seq_fed_mix``'s weights on the VALIDATION item (leave-last-out view), one seed.

    python benchmarks/seq_mix_validation.py SEQ.npz OTHER.npz [THIRD.npz]

The files are :mod:`benchmarks.seq_scores_validation`'s score matrices of the models on
that view (seed 0); for every share of the others on a grid of 0.1 (their shares summing
to at most 1, the first file has the rest) one JSON line with the mix's validation NDCG@10
for a logged-in and an anonymous viewer (:func:`mpcrec.model.seq_ensemble.mixed`; the
anonymous one only when every file has anonymous scores). Never touches the test item.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.split import leave_last_out
from mpcrec.model.metrics import evaluate
from mpcrec.model.seq_ensemble import mixed


def main(argv: list[str]) -> None:
    """Print the validation NDCG@10 of the mix at every share."""
    parts = [dict(np.load(path)) for path in argv]
    tuning = leave_last_out(load_movielens_100k())
    grid = [round(0.1 * k, 1) for k in range(11)]
    for shares in itertools.product(grid, repeat=len(parts) - 1):
        if sum(shares) > 1.0 + 1e-9:
            continue
        weights = [1.0 - sum(shares), *shares]
        line: dict[str, object] = {"files": [Path(a).stem for a in argv], "weights": weights}
        for viewer in ("logged_in", "anonymous"):
            if any(viewer not in part for part in parts):
                continue
            tables = [part[viewer] for part in parts]
            table = mixed(tables, weights)
            ndcg = evaluate(lambda u, t=table: t[u], tuning, stage="valid")["ndcg@10"]
            line[f"{viewer}_valid_ndcg10"] = round(ndcg, 4)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
