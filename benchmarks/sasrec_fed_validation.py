"""Federated SASRec variants on the VALIDATION item only (leave-last-out view), one seed.

    python benchmarks/sasrec_fed_validation.py 'SASREC_FAIR changes' 'SASRecFedConfig' EVERY [SEED]

e.g. ``... '{}' '{"rounds": 40, "local_epochs": 1}' 5``: plaintext FedAvg over the 20
instances (:func:`mpcrec.model.sasrec_fed.train_sasrec_fedavg`) and, every ``EVERY``
rounds, one JSON line with the logged-in and anonymous validation NDCG@10 (and the
logged-in viewer read from their last 5 items only), wall and process CPU seconds and the
load average. Never touches the test item.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import partition_users
from mpcrec.data.split import leave_last_out
from mpcrec.model.metrics import evaluate
from mpcrec.model.sasrec import SASRec, latest_scorer, recent
from mpcrec.model.sasrec_config import SASRecFedConfig
from mpcrec.model.sasrec_fed import anonymous_sasrec_scorer, sasrec_scorer, train_sasrec_fedavg
from mpcrec.model.sequence import histories
from mpcrec.model.tuned_sequence import SASREC_FAIR


def main(argv: list[str]) -> None:
    """Run one variant and print its validation curve."""
    changes, fed_changes = json.loads(argv[0]), json.loads(argv[1])
    every = int(argv[2])
    seed = int(argv[3]) if len(argv) > 3 else 0
    data = load_movielens_100k()
    tuning = leave_last_out(data)
    partition = partition_users(data, 20, seed=seed)
    config = replace(SASREC_FAIR, **changes)
    fed = SASRecFedConfig(**fed_changes)
    started, cpu = time.time(), time.process_time()
    last5 = recent([h[-5:] for h in histories(tuning.train)], config.max_len)

    def follow(r: int, model: SASRec) -> None:
        if r % every and r != fed.rounds:
            return
        logged_in = evaluate(sasrec_scorer(model, tuning), tuning, stage="valid")["ndcg@10"]
        anonymous = evaluate(anonymous_sasrec_scorer(model, tuning), tuning, stage="valid")
        line = {"changes": changes, "fed": fed_changes, "round": r}
        line |= {"valid_ndcg10": round(logged_in, 4)}
        line |= {"anon_valid_ndcg10": round(anonymous["ndcg@10"], 4)}
        short = evaluate(latest_scorer(model, last5), tuning, stage="valid")["ndcg@10"]
        line |= {"last5_valid_ndcg10": round(short, 4)}
        line |= {"wall_s": round(time.time() - started, 1)}
        line |= {"cpu_s": round(time.process_time() - cpu, 1), "load": os.getloadavg()[0]}
        print(json.dumps(line), flush=True)

    train_sasrec_fedavg(tuning, partition, config, fed, seed=seed, on_round=follow)


if __name__ == "__main__":
    main(sys.argv[1:])
