"""Per-instance update norms of the runtime's ``seqrec`` trainer, round by round.

    python benchmarks/seq_update_norms.py CONFIG ROUNDS [SEED]

``CONFIG`` is ``SEQ_FED`` or ``SEQ_FED_HARD`` (:mod:`mpcrec.model.tuned_sequence`). The
20 ML-100k instances of the demo (:meth:`SeqrecTrainer.movielens`, leave-last-out view,
each its own ``default_rng([seed, index])``) run ``ROUNDS`` rounds of
:meth:`SeqrecTrainer.update` from a FedAvg model (the example-weighted mean of the deltas,
as the demo publishes it). One JSON line per round: the largest and median raw delta norm
and the largest one divided by the demo's server step, which is what the committee's
``clip_norm`` (:data:`mpcrec.demo_seqrec.CLIP_NORM`) must hold.
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from mpcrec.demo_seqrec import CLIP_NORM, SERVER_LR, initial_model
from mpcrec.model import tuned_sequence
from mpcrec.node.seqrec_trainer import SeqrecTrainer


def main(argv: list[str]) -> None:
    """Run the rounds and print one line per round."""
    config = getattr(tuned_sequence, argv[0])
    rounds = int(argv[1])
    seed = int(argv[2]) if len(argv) > 2 else 0
    trainers = []
    for index in range(20):
        trainer = SeqrecTrainer.movielens(index, 20, seed, rounds)
        trainer.config = config
        trainer.examples = type(trainer.examples).of(trainer.split, config, trainer.users)
        trainers.append(trainer)
    model = initial_model(1682, seed)
    started = time.time()
    for version in range(rounds):
        deltas, weights = [], []
        for trainer in trainers:
            delta, weight = trainer.update(model, version, server_lr=1.0)
            deltas.append(delta)
            weights.append(weight)
        norms = np.array([float(np.linalg.norm(d)) for d in deltas])
        w = np.array(weights) / sum(weights)
        model = model + sum(wi * d for wi, d in zip(w, deltas, strict=True))
        line = {"config": argv[0], "round": version + 1, "max_norm": round(norms.max(), 2)}
        line |= {"median_norm": round(float(np.median(norms)), 2)}
        line |= {"max_over_server_lr": round(norms.max() / SERVER_LR, 3), "clip": CLIP_NORM}
        line |= {"largest_shard": int(np.argmax(weights)), "argmax": int(np.argmax(norms))}
        line |= {"wall_s": round(time.time() - started, 1), "load": os.getloadavg()[0]}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
