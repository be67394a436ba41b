"""Validation score matrices of the federated models, for mixes (VALIDATION item only).

    python benchmarks/seq_scores_validation.py MODEL ROUNDS CHECKPOINTS OUT_DIR [SEED] [JSON]

``MODEL``: ``seq_fed_hard`` (``SEQ_FED_HARD`` with the JSON changes), ``sasrec_fed``
(``SASREC_FED``, kept Adam, viewers from their last 5 items), ``fedavg_plain``
(``FEDAVG``, MF's plaintext FedAvg), ``transitions`` or ``log_transitions`` (first-order
counts with the popularity back-off, or their log1p) or ``ease`` (EASE's item-to-item
weights over the viewer's whole history; ROUNDS only names these files). The
federated ones are trained by plaintext FedAvg over the 20 instances on the leave-last-out
view (seed ``SEED``, default 0). At each round of ``CHECKPOINTS`` (comma-separated) the
logged-in and anonymous score matrices of every user are saved as
``OUT_DIR/MODEL-ROUND.npz`` (float32) and one JSON line is printed with their validation
NDCG@10, wall seconds and the load average. Never touches the test item.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import Partition, partition_users
from mpcrec.data.split import Split, leave_last_out
from mpcrec.model.baselines import ease_scorer
from mpcrec.model.fedavg import train_fedavg
from mpcrec.model.metrics import Scorer, evaluate
from mpcrec.model.sasrec import SASRec
from mpcrec.model.sasrec_config import SASRecFedConfig
from mpcrec.model.sasrec_fed import anonymous_sasrec_scorer, sasrec_scorer, train_sasrec_fedavg
from mpcrec.model.seqrec import SeqModel, anonymous_scorer, train_seq_fedavg, user_scorer
from mpcrec.model.sequence import transitions_scorer
from mpcrec.model.tuned import FEDAVG
from mpcrec.model.tuned_sequence import SASREC_FED, SEQ_FED_HARD

Save = Callable[[int, Scorer, Scorer | None], None]


def _run(
    name: str, tuning: Split, p: Partition, rounds: int, seed: int, changes: dict, save: Save
) -> None:
    if name == "seq_fed_hard":

        def seq(r: int, model: SeqModel) -> None:
            save(r, user_scorer(model, tuning), anonymous_scorer(model, tuning))

        config = replace(SEQ_FED_HARD, **changes)
        train_seq_fedavg(tuning, p, config, rounds=rounds, seed=seed, on_model=seq)
    elif name == "sasrec_fed":

        def sas(r: int, model: SASRec) -> None:
            save(r, sasrec_scorer(model, tuning, 5), anonymous_sasrec_scorer(model, tuning))

        fed = SASRecFedConfig(rounds=rounds, local_epochs=1, keep_optimiser=True, serve_items=5)
        train_sasrec_fedavg(tuning, p, replace(SASREC_FED, **changes), fed, seed=seed, on_round=sas)
    elif name in ("transitions", "log_transitions"):
        counts = transitions_scorer(tuning, seed=seed)  # smoothing chosen on validation
        if name == "transitions":
            save(rounds, counts, counts)
        else:
            logged = lambda u: np.log1p(np.asarray(counts(u)))  # noqa: E731
            save(rounds, logged, logged)
    elif name == "ease":  # item-to-item, order-free; lam chosen on validation
        save(rounds, ease_scorer(tuning), None)
    elif name == "fedavg_plain":
        factors = train_fedavg(tuning, p, replace(FEDAVG, rounds=rounds), seed=seed)
        save(rounds, factors.scores, None)
    else:
        raise SystemExit(f"unknown model {name}")


def main(argv: list[str]) -> None:
    """Train one model on the validation view and save its score matrices."""
    name, rounds = argv[0], int(argv[1])
    checkpoints = {int(c) for c in argv[2].split(",")}
    out = Path(argv[3])
    seed = int(argv[4]) if len(argv) > 4 else 0
    changes = json.loads(argv[5]) if len(argv) > 5 else {}
    data = load_movielens_100k()
    tuning = leave_last_out(data)
    partition = partition_users(data, 20, seed=seed)
    users = np.arange(tuning.n_users)
    started = time.time()

    def save(r: int, logged_in: Scorer, anonymous: Scorer | None) -> None:
        if r not in checkpoints:
            return
        arrays = {"logged_in": logged_in(users).astype(np.float32)}
        line = {"model": name, "changes": changes, "round": r, "seed": seed}
        line["valid_ndcg10"] = round(evaluate(logged_in, tuning, stage="valid")["ndcg@10"], 4)
        if anonymous is not None:
            arrays["anonymous"] = anonymous(users).astype(np.float32)
            line["anon_valid_ndcg10"] = round(
                evaluate(anonymous, tuning, stage="valid")["ndcg@10"], 4
            )
        np.savez(out / f"{name}-{r}.npz", **arrays)
        line |= {"wall_s": round(time.time() - started, 1), "load": os.getloadavg()[0]}
        print(json.dumps(line), flush=True)

    _run(name, tuning, partition, rounds, seed, changes, save)


if __name__ == "__main__":
    main(sys.argv[1:])
