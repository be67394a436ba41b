"""``seq_fed`` variants on the VALIDATION item only (leave-last-out view), one seed.

    python benchmarks/seq_fed_validation.py 'JSON overrides of SEQ_FED' ROUNDS EVERY [SEED]

e.g. ``... '{"negatives": 3}' 100 25``: plaintext FedAvg over the 20 instances
(:func:`mpcrec.model.seqrec.train_seq_fedavg`) and, every ``EVERY`` rounds, one JSON line
with the logged-in and anonymous validation NDCG@10, wall seconds and the load average.
Never touches the test item.
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
from mpcrec.model.seqrec import SeqModel, anonymous_scorer, train_seq_fedavg, user_scorer
from mpcrec.model.tuned_sequence import SEQ_FED


def main(argv: list[str]) -> None:
    """Run one variant and print its validation curve."""
    changes = json.loads(argv[0])
    rounds, every = int(argv[1]), int(argv[2])
    seed = int(argv[3]) if len(argv) > 3 else 0
    data = load_movielens_100k()
    tuning = leave_last_out(data)
    partition = partition_users(data, 20, seed=seed)
    started = time.time()

    def follow(r: int, model: SeqModel) -> None:
        if r % every and r != rounds:
            return
        logged_in = evaluate(user_scorer(model, tuning), tuning, stage="valid")["ndcg@10"]
        anonymous = evaluate(anonymous_scorer(model, tuning), tuning, stage="valid")["ndcg@10"]
        line = {"changes": changes, "rounds": rounds, "round": r}
        line |= {"valid_ndcg10": round(logged_in, 4), "anon_valid_ndcg10": round(anonymous, 4)}
        line |= {"wall_s": round(time.time() - started, 1), "load": os.getloadavg()[0]}
        print(json.dumps(line), flush=True)

    config = replace(SEQ_FED, **changes)
    train_seq_fedavg(tuning, partition, config, rounds=rounds, seed=seed, on_model=follow)


if __name__ == "__main__":
    main(sys.argv[1:])
