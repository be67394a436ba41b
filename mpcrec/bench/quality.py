"""``mpcrec bench quality``: every recommender on one dataset, over several seeds.

Loads the data (MovieLens 100k by default, or ``--interactions FILE``), splits it
leave-last-out, partitions users into instances (seeded), trains every method, ranks every
non-training item for every user and reports HR@10, NDCG@10, Recall@20 and NDCG@20 on the
test item: means over the seeds with a ``_std`` twin, and training seconds.
``--protocol whole-past`` (the default): at test time every method has seen each user's
history up to the test event, validation item included; settings are still chosen on the
validation item of the training-only view. ``fedavg_dp`` and ``dpals``
(:mod:`mpcrec.bench.quality_dp`) run at the user-level ε of ``--epsilon`` (δ = 1e-5);
``--curve`` adds NDCG@10 at other ε (``fedavg_dp`` and ``dpals``, each if chosen;
``fedavg_dp`` also when ``dpals`` is not: :func:`curved_methods`).
Prints a table and writes JSON (atomically).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mpcrec.bench.quality_coldstart import register_cold_start, run_cold_start
from mpcrec.bench.quality_dp import CURVED as DP_CURVED
from mpcrec.bench.quality_dp import DP_METHODS, DP_ROUNDS, DP_TRAINERS, dp_configs
from mpcrec.bench.quality_methods import DEFAULT_METHODS as BASE_DEFAULT
from mpcrec.bench.quality_methods import DELTA, PROTOCOLS, Setting
from mpcrec.bench.quality_methods import METHODS as BASE_METHODS
from mpcrec.bench.quality_methods import TRAINERS as BASE_TRAINERS
from mpcrec.bench.quality_seq import (
    PART_KEYS,
    SEQ_CURVED,
    SEQ_METHODS,
    SEQ_ROUNDS,
    SEQ_TRAINERS,
    seq_configs,
)
from mpcrec.bench.report import check_writable, write_json
from mpcrec.data.interaction_file import load_interaction_file
from mpcrec.data.interactions import Interactions
from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import Partition, partition_users
from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.errors import ConfigError
from mpcrec.files import write_atomic
from mpcrec.model.fedavg import FedConfig
from mpcrec.model.metrics import METRICS, evaluate
from mpcrec.model.tuned import FEDAVG, FEDAVG_DP, MF, MF_DP
from mpcrec.model.tuned_sequence import SASREC, SEQ, SEQ_FED, SEQ_FED_ROUNDS

METHODS = (*BASE_METHODS, *DP_METHODS, *SEQ_METHODS)  # seq_dp: asked for by name
TRAINERS = {**BASE_TRAINERS, **DP_TRAINERS, **SEQ_TRAINERS}
CURVED = (*DP_CURVED, *SEQ_CURVED)
DEFAULT_METHODS = (*BASE_DEFAULT, *DP_METHODS)


def register(sub: Any) -> None:
    """Add ``quality`` to the ``mpcrec bench`` subcommands."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "quality",
        help="recommendation quality of every method (HR@10, NDCG@10, Recall@20, NDCG@20)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--dataset", choices=("ml-100k",), default="ml-100k")
    source.add_argument(
        "--interactions",
        type=Path,
        metavar="FILE",
        help="CSV/TSV with columns user,item,timestamp[,weight][,instance]",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default=PROTOCOLS[0],
        help="whole-past (default): at test time every method has seen each user's history "
        "up to the test event, validation item included; train-only: the earlier protocol, "
        "models see the training events only (the validation item is merely excluded); "
        "cold-start: the newest 20%% of items lose their training events (quality_coldstart)",
    )
    parser.add_argument("--instances", type=int, default=20, help="instances (default 20)")
    parser.add_argument("--rounds", type=int, default=200, help="fedavg_plain rounds (200)")
    parser.add_argument(
        "--dp-rounds",
        type=int,
        default=FEDAVG_DP.rounds,
        help=f"fedavg_dp rounds ({FEDAVG_DP.rounds}: fewer rounds, less noise each)",
    )
    parser.add_argument("--dim", type=int, default=MF.dim, help=f"embedding dimension ({MF.dim})")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (0,1,2)")
    parser.add_argument(
        "--methods", default=",".join(DEFAULT_METHODS), help=f"subset of {','.join(METHODS)}"
    )
    parser.add_argument(
        "--epsilon", type=float, default=8.0, help="user-level ε of fedavg_dp at δ=1e-5 (8)"
    )
    parser.add_argument(
        "--curve",
        default="",
        metavar="EPS,...",
        help="also run fedavg_dp and dpals, each if chosen (fedavg_dp also if dpals is not), "
        "at these ε for the privacy-utility curve (e.g. 1,4,16,64)",
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write the tables as Markdown"
    )
    register_cold_start(parser)
    parser.set_defaults(func=run)


Rows = dict[str, list[dict[str, Any]]]
CurveRows = dict[tuple[str, float], list[dict[str, Any]]]


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args``; returns the exit code."""
    seeds, methods, curve = _check_args(args)
    if args.protocol == "cold-start":
        return run_cold_start(args, seeds)
    console = Console()
    started = time.perf_counter()
    data = load_interaction_file(args.interactions) if args.interactions else load_movielens_100k()
    tuning = leave_last_out(data)
    setting = Setting(
        split=whole_past(data) if args.protocol == "whole-past" else tuning,
        tuning=tuning,
        mf=replace(MF, dim=args.dim),
        rounds=args.rounds,
        dp_rounds=args.dp_rounds,
        epsilon=args.epsilon,
    )
    instances = partition_users(data, args.instances, seed=seeds[0]).n_instances
    results, points = _train_and_evaluate(args, data, setting, seeds, methods, curve, console)
    report = _report(args, data, setting, seeds, results, points, time.perf_counter() - started)
    report["instances"] = instances
    _write(args, report)
    console.print(_table(report))
    console.print(f"wrote {args.out}")
    return 0


def _check_args(args: argparse.Namespace) -> tuple[list[int], list[str], list[float]]:
    """Seeds, methods and curve points from ``args``; every size and output path checked."""
    seeds = _ints(args.seeds, "--seeds")
    methods = _methods(args.methods)
    curve = [float(x) for x in _floats(args.curve, "--curve")]
    if min(args.rounds, args.dp_rounds) < 1:
        raise ConfigError(f"--rounds {args.rounds} --dp-rounds {args.dp_rounds}: need >= 1")
    if args.dim < 2:
        raise ConfigError(f"--dim {args.dim}: need at least 2 (one is the item bias)")
    for path in (args.out, args.markdown):
        if path is not None:
            check_writable(path)
    return seeds, methods, curve


def _train_and_evaluate(
    args: argparse.Namespace,
    data: Interactions,
    setting: Setting,
    seeds: list[int],
    methods: list[str],
    curve: list[float],
    console: Console,
) -> tuple[Rows, CurveRows]:
    """Every method (and ``fedavg_dp`` at every curve ε) for every seed, with progress bars."""
    results: Rows = {name: [] for name in methods}
    curved = curved_methods(methods)
    points: CurveRows = {(name, eps): [] for name in curved for eps in curve}
    jobs: list[tuple[str, float | None]] = [(name, None) for name in methods]
    jobs += [(name, eps) for name in curved for eps in curve]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        overall = progress.add_task("all", total=len(jobs) * len(seeds))
        for seed in seeds:
            partition = partition_users(data, args.instances, seed=seed)
            for name, eps in jobs:
                label = name if eps is None else f"{name} ε={eps:g}"
                rounds = {"fedavg_dp": args.dp_rounds, "seq_fed": SEQ_FED_ROUNDS, **DP_ROUNDS}
                total = {**rounds, **SEQ_ROUNDS}.get(name, args.rounds)
                task = progress.add_task(f"seed {seed} {label}", total=total)
                run_setting = setting if eps is None else replace(setting, epsilon=eps)

                def tick(r: int, task: Any = task) -> None:
                    progress.update(task, completed=r)

                row = _train_one(name, run_setting, partition, seed, tick)
                (results[name] if eps is None else points[name, eps]).append(row)
                progress.remove_task(task)
                progress.advance(overall)
    return results, points


def curved_methods(methods: list[str]) -> list[str]:
    """The methods ``--curve`` runs at every ε: the chosen curved ones, ``fedavg_dp`` first.

    ``fedavg_dp`` is on the curve if chosen, or if no other curved method is (so a curve
    always has it unless a DP-ALS-only run asks for ``dpals`` without ``fedavg_dp``).
    """
    chosen = [name for name in CURVED if name in methods]
    return ["fedavg_dp", *chosen] if "fedavg_dp" in methods or not chosen else chosen


def _train_one(
    name: str, setting: Setting, partition: Partition, seed: int, tick: Callable[[int], None]
) -> dict[str, Any]:
    """Train ``name``, evaluate it on the test items; the metrics, train seconds and extras."""
    t0 = time.perf_counter()
    scorer, extra = TRAINERS[name](setting, partition, seed, tick)
    train_s = time.perf_counter() - t0
    row = {**evaluate(scorer, setting.split, stage="test"), "train_s": train_s}
    row.update(extra)
    return row


def _write(args: argparse.Namespace, report: dict[str, Any]) -> None:
    """The JSON report (strict: no NaN) and, with ``--markdown``, its tables."""
    write_json(
        args.out, report, hint="choose an --out path in a writable directory", allow_nan=False
    )
    if args.markdown:
        write_atomic(
            args.markdown,
            markdown(report).encode(),
            hint="choose a --markdown path in a writable directory",
        )


def _summary(rows: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    extras: tuple[str, ...] = ("train_s", "epsilon", "noise_multiplier", "payload_values")
    extras += ("max_delta_norm", *PART_KEYS)  # PART_KEYS: the mixes' parts
    for key in (*METRICS, *(f"anonymous_{m}" for m in METRICS), *extras):
        values = [float(r[key]) for r in rows if key in r]
        if values:
            out[key] = float(np.mean(values))
            out[f"{key}_std"] = float(np.std(values))
    return out


def _report(
    args: argparse.Namespace,
    data: Interactions,
    setting: Setting,
    seeds: list[int],
    results: dict[str, list[dict[str, Any]]],
    points: CurveRows,
    elapsed: float,
) -> dict[str, Any]:
    return {
        "dataset": str(args.interactions) if args.interactions else args.dataset,
        "protocol": args.protocol,
        "users": data.n_users,
        "items": data.n_items,
        "interactions": len(data),
        "instances": args.instances,
        "rounds": args.rounds,
        "dp_rounds": args.dp_rounds,
        "seeds": seeds,
        "methods": {name: _summary(rows) for name, rows in results.items()},
        "privacy_utility": [
            {"method": name, "target_epsilon": eps, "delta": DELTA, **_summary(rows)}
            for (name, eps), rows in points.items()
        ],
        "config": {
            "mf": asdict(setting.mf),
            "mf_dp": asdict(replace(MF_DP, dim=setting.mf.dim)),
            "fedavg": _fed_dict(FEDAVG),
            "sasrec": asdict(SASREC),
            "seq_central": asdict(SEQ),
            "seq_fed": {**asdict(SEQ_FED), "rounds": SEQ_FED_ROUNDS},
            "fedavg_dp": {
                **_fed_dict(FEDAVG_DP),
                "target_epsilon": setting.epsilon,
                "delta": DELTA,
            },
            **dp_configs(setting.epsilon),
            **seq_configs(setting.epsilon),
        },
        "elapsed_s": elapsed,
        "load_average": list(os.getloadavg()),
    }


def _fed_dict(config: FedConfig) -> dict[str, Any]:
    """The federated settings for the report (strict JSON: no infinities)."""
    out = asdict(config)
    out["local"].pop("mf")
    out.pop("rounds")
    out.pop("noise_multiplier")  # fedavg_dp's is per ε: see its rows
    if math.isinf(out["local"]["clip_norm"]):
        out["local"]["clip_norm"] = None
    return out


def _table(report: dict[str, Any]) -> Table:
    table = Table(
        title=f"{report['dataset']}: {report['users']} users, {report['items']} items, "
        f"{report['instances']} instances, {report['rounds']} rounds "
        f"({report['dp_rounds']} with DP), seeds {report['seeds']}"
    )
    table.add_column("method")
    for key in METRICS:
        table.add_column(key, justify="right")
        if key == "ndcg@10":
            table.add_column("±sd", justify="right")
    table.add_column("ε", justify="right")
    table.add_column("train s", justify="right")
    rows = [(name, row) for name, row in report["methods"].items()]
    rows += [(f"{p['method']} ε={p['target_epsilon']:g}", p) for p in report["privacy_utility"]]
    for name, row in rows:
        cells = [f"{row[k]:.4f}" for k in METRICS]
        cells.insert(2, f"{row['ndcg@10_std']:.4f}")
        epsilon = f"{row['epsilon']:.2g}" if "epsilon" in row else ""
        table.add_row(name, *cells, epsilon, f"{row['train_s']:.1f}")
    return table


def markdown(report: dict[str, Any]) -> str:
    """The report's two tables (methods; privacy-utility curve) as Markdown."""
    head = "| method | " + " | ".join(METRICS) + " | train s |"
    lines = [head, "|---" * (len(METRICS) + 2) + "|"]
    for name, row in report["methods"].items():
        cells = [f"{row[k]:.4f} ± {row[k + '_std']:.4f}" for k in METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['train_s']:.1f} |")
    points = list(report["privacy_utility"])
    for name in ("fedavg_dp", *CURVED):
        if name in report["methods"]:
            points.append({**report["methods"][name], "method": name, "delta": DELTA})
    if points:
        lines += ["", "| method | user-level ε (δ = 1e-5) | noise multiplier z | NDCG@10 | HR@10 |"]
        lines.append("|---|---|---|---|---|")
        for p in sorted(points, key=lambda p: (p["method"], float(p["epsilon"]))):
            lines.append(
                f"| {p['method']} | {p['epsilon']:.2f} | {p['noise_multiplier']:.3f} | "
                f"{p['ndcg@10']:.4f} ± {p['ndcg@10_std']:.4f} | {p['hr@10']:.4f} |"
            )
    return "\n".join(lines) + "\n"


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected integers like 0,1,2") from None
    if not values:
        raise ConfigError(f"{option} {text!r}: give at least one value")
    return values


def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected numbers like 1,4,16") from None
    if any(not v > 0 for v in values):
        raise ConfigError(f"{option} {text!r}: every ε must be positive")
    return values


def _methods(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown or not names:
        raise ConfigError(
            f"--methods {text!r}: unknown method(s) {', '.join(unknown) or '(none given)'}",
            hint=f"choose among {', '.join(METHODS)}",
        )
    return names
