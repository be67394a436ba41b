"""``mpcrec bench related``: quality of related videos (what an anonymous viewer gets).

For every user of MovieLens 100k (split leave-last-out), the "current video" is their last
training item; each method ranks every other item as the videos to show next to it, and
the user's test item is looked up in that ranking (watched items excluded, as in
``mpcrec bench quality``). Methods:

- ``popularity``: most-watched first, whatever the current video;
- ``peertube_today``: PeerTube's own rule (videos sharing a tag, newest first);
- ``related_fedavg``: item-to-item from the federated model, what the node serves for
  ``videoId=``: the cosine of the item embeddings (the model of ``fedavg_plain``: 20
  instances, 200 plaintext rounds), the same score as
  :meth:`mpcrec.node.recommender.ModelSnapshot.related`.

Reports HR@10, NDCG@10, Recall@20, NDCG@20 per seed and their means; the target of issue
12 is ``related_fedavg`` NDCG@10 >= 3x ``peertube_today`` and above ``popularity``.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.console import Console
from rich.table import Table

from mpcrec.bench.report import check_writable, write_json
from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import partition_users
from mpcrec.data.split import Split, leave_last_out
from mpcrec.errors import UserError
from mpcrec.model.baselines import last_items, peertube_today_scorer, popularity_scorer
from mpcrec.model.fedavg import FedConfig, train_fedavg
from mpcrec.model.metrics import METRICS, Scorer, evaluate
from mpcrec.model.mf import Matrix
from mpcrec.model.tuned import FEDAVG

METHODS = ("popularity", "peertube_today", "related_fedavg")
TARGET_RATIO = 3.0


def register(sub: Any) -> None:
    """Add ``bench related``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "related",
        help="quality of related videos on MovieLens against PeerTube's tag rule",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (default 1)")
    parser.add_argument("--instances", type=int, default=20, help="instances (default 20)")
    parser.add_argument("--rounds", type=int, default=FEDAVG.rounds, help="FedAvg rounds")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.set_defaults(func=run)


def related_scorer(split: Split, item_emb: Matrix) -> Scorer:
    """Cosine of every item to each user's current (last training) item."""
    norms = np.linalg.norm(item_emb, axis=1, keepdims=True)
    unit = item_emb / np.where(norms > 0, norms, 1.0)
    current = last_items(split)

    def score(users: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return np.asarray(unit[current[users]] @ unit.T, dtype=np.float64)

    return score


def run(args: argparse.Namespace) -> int:
    """Train, rank, print the table and write the JSON."""
    if args.seeds <= 0 or args.rounds <= 0 or args.instances <= 0:
        raise UserError("--seeds, --rounds and --instances must be positive")
    check_writable(args.out)
    console = Console()
    started, load_before = time.perf_counter(), os.getloadavg()
    data = load_movielens_100k()
    split = leave_last_out(data)
    per_seed: list[dict[str, dict[str, float]]] = []
    for seed in range(args.seeds):
        console.print(f"seed {seed}: training fedavg_plain ({args.rounds} rounds) ...")
        partition = partition_users(data, args.instances, seed=seed)
        factors = train_fedavg(split, partition, _config(args.rounds), seed=seed)
        scorers = {
            "popularity": popularity_scorer(split, seed=seed),
            "peertube_today": peertube_today_scorer(split, seed=seed),
            "related_fedavg": related_scorer(split, factors.item_emb),
        }
        per_seed.append({name: evaluate(scorer, split) for name, scorer in scorers.items()})
    means = {m: {k: float(np.mean([s[m][k] for s in per_seed])) for k in METRICS} for m in METHODS}
    ours, today = means["related_fedavg"]["ndcg@10"], means["peertube_today"]["ndcg@10"]
    report = {
        "benchmark": "related",
        "dataset": "movielens-100k",
        "seeds": args.seeds,
        "instances": args.instances,
        "rounds": args.rounds,
        "per_seed": per_seed,
        "mean": means,
        "ratio_to_peertube_today": ours / today if today > 0 else None,
        "target": f"related_fedavg ndcg@10 >= {TARGET_RATIO}x peertube_today and > popularity",
        "target_met": ours >= TARGET_RATIO * today and ours > means["popularity"]["ndcg@10"],
        "seconds": time.perf_counter() - started,
        "machine": {"cpus": os.cpu_count(), "loadavg_before": list(load_before)},
    }
    write_json(args.out, report)
    console.print(_table(means))
    console.print(f"NDCG@10 ratio to PeerTube today: {report['ratio_to_peertube_today']:.2f}")
    return 0


def _config(rounds: int) -> FedConfig:
    return replace(FEDAVG, rounds=rounds)


def _table(means: dict[str, dict[str, float]]) -> Table:
    table = Table(title="related videos of the user's last training item, MovieLens 100k")
    table.add_column("method")
    for metric in METRICS:
        table.add_column(metric, justify="right")
    for method in METHODS:
        table.add_row(method, *(f"{means[method][m]:.4f}" for m in METRICS))
    return table
