"""SASRec on the VALIDATION item only (leave-last-out view), seed 0, with early stopping.

    python benchmarks/sasrec_validation.py 'JSON SASRecConfig fields' EVERY

prints a JSON line after epochs 1 and 2 (wall and CPU seconds: the cost of an epoch) and
every ``EVERY`` epochs (validation NDCG@10), stops after ``patience`` checks without a new
best, and ends with the whole curve. Never touches the test item.
"""

from __future__ import annotations

import json
import os
import sys
import time

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.split import leave_last_out
from mpcrec.model.metrics import Scorer, evaluate
from mpcrec.model.sasrec import stale, train_sasrec
from mpcrec.model.sasrec_config import SASRecConfig


def main(argv: list[str]) -> None:
    """Run one configuration and print its validation curve."""
    config = SASRecConfig(**json.loads(argv[0]))
    every = int(argv[1])
    tuning = leave_last_out(load_movielens_100k())
    started = time.time()
    curve: list[tuple[int, float]] = []

    def follow(epoch: int, scorer: Scorer) -> bool:
        checked = epoch % every == 0
        if checked:
            curve.append((epoch, evaluate(scorer, tuning, stage="valid")["ndcg@10"]))
        if checked or epoch <= 2:
            line = {"epoch": epoch, "valid_ndcg10": curve[-1][1] if checked else None}
            line |= {"wall_s": round(time.time() - started, 1), "cpu_s": time.process_time()}
            print(json.dumps({**line, "load": os.getloadavg()[0]}), flush=True)
        return not stale(curve, config.patience)

    train_sasrec(tuning, config, seed=0, on_epoch=follow)
    print(json.dumps({"config": argv[0], "curve": curve}))


if __name__ == "__main__":
    main(sys.argv[1:])
