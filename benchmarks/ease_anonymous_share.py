"""EASE's share of an anonymous viewer's mix (``e_v B`` with ``seqrec``), on validation.

    python benchmarks/ease_anonymous_share.py OUT.json [ROUNDS] [SEED]

The demo's setting: ML-100k's leave-last-out view, 20 instances (partition ``SEED``),
``seqrec`` = :func:`~mpcrec.model.seqrec.train_seq_fedavg` of ``SEQ_RUNTIME`` for
``ROUNDS`` rounds (default 25, the demo's), ``B`` from the summed Gram at
``EaseConfig().lam``; the anonymous viewer is their latest training video alone, scored on
the VALIDATION item (the test item is not looked at). One line per share 0.0 .. 0.9, and
the logged-in viewer's beside it.
"""

from __future__ import annotations

import json
import sys

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import partition_users
from mpcrec.data.split import leave_last_out
from mpcrec.model.item_gram import (
    EaseConfig,
    ease_anonymous_scorer,
    ease_viewer_scorer,
    federated_ease,
)
from mpcrec.model.metrics import evaluate
from mpcrec.model.seq_ensemble import ensemble_scorer
from mpcrec.model.seqrec import anonymous_scorer, train_seq_fedavg, user_scorer
from mpcrec.model.tuned_sequence import SEQ_RUNTIME

SHARES = tuple(k / 10 for k in range(10))


def main(out: str, rounds: int, seed: int) -> None:
    data = load_movielens_100k()
    split = leave_last_out(data)
    partition = partition_users(data, 20, seed=seed)
    model = train_seq_fedavg(split, partition, SEQ_RUNTIME, rounds=rounds, seed=seed)
    b = federated_ease(split, partition, EaseConfig().lam)
    pairs = {
        "anonymous": (anonymous_scorer(model, split), ease_anonymous_scorer(split, b)),
        "logged_in": (user_scorer(model, split), ease_viewer_scorer(split, b)),
    }
    rows = []
    for share in SHARES:
        row: dict[str, float] = {"share": share}
        for viewer, parts in pairs.items():
            scorer = ensemble_scorer(list(parts), (1.0 - share, share))
            row[viewer] = round(evaluate(scorer, split, stage="valid")["ndcg@10"], 4)
        rows.append(row)
        print(row, flush=True)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"rounds": rounds, "seed": seed, "stage": "valid", "rows": rows}, f, indent=1)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], int(args[1]) if len(args) > 1 else 25, int(args[2]) if len(args) > 2 else 0)
