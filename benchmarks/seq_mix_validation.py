"""Choose ``seq_fed_mix``'s weights on the VALIDATION item (leave-last-out view), one seed.

    python benchmarks/seq_mix_validation.py SEQ.npz SASREC.npz [SEED]

The two files are :mod:`benchmarks.seq_scores_validation`'s score matrices of the two
federated models on that view; for every SASRec share in 0, 0.1, ..., 1 one JSON line with
the mix's validation NDCG@10 for a logged-in and an anonymous viewer
(:func:`mpcrec.model.seq_ensemble.mixed`). Never touches the test item.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.split import leave_last_out
from mpcrec.model.metrics import evaluate
from mpcrec.model.seq_ensemble import mixed


def main(argv: list[str]) -> None:
    """Print the validation NDCG@10 of the mix at every share."""
    seq, sasrec = np.load(argv[0]), np.load(argv[1])
    tuning = leave_last_out(load_movielens_100k())
    for share in np.linspace(0.0, 1.0, 11):
        line: dict[str, float] = {"sasrec_weight": round(float(share), 2)}
        for viewer in ("logged_in", "anonymous"):
            table = mixed([seq[viewer], sasrec[viewer]], [1.0 - share, share])
            ndcg = evaluate(lambda u, t=table: t[u], tuning, stage="valid")["ndcg@10"]
            line[f"{viewer}_valid_ndcg10"] = round(ndcg, 4)
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
