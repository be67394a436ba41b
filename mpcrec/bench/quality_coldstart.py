"""``mpcrec bench quality --protocol cold-start``: ranking videos nobody has watched yet.

On MovieLens 100k the 20 % most recently released items lose every training interaction
(:func:`~mpcrec.data.split_cold.cold_start`); the federated model is trained on the rest
(``fedavg_plain``'s settings, one training per seed shared by the two model rows), and every
method ranks for the users whose test item is one of the new items:

``fedavg_content``
    the model with metadata: new items get their content row ``W^T f``
    (:mod:`mpcrec.model.content`);
``fedavg_ridge``, ``fedavg_ridge_calibrated``
    the map fitted once on ``fedavg_plain``'s final rows; calibrated: the new rows times the
    runtime's one scale (:func:`~mpcrec.model.content_initial.calibration_scale`), so the
    same order among the new items, another against the old ones (the ``all`` column);
``fedavg_plain``
    the model without metadata: a new item has no row (zeros: it scores 0, ties seeded);
``peertube_today``
    PeerTube's tag rule for the user's latest training video;
``popularity``
    training counts (every new item has none: a seeded order among them);
``popularity_hindsight``
    the new items' counts among the removed events: what they will have earned, not known
    on the day they are published (a reference, not a method).

Two candidate sets: ``new`` (only the new items, minus what the user has seen: "rank
them") and ``all`` (every unseen item, old ones included, as a node would serve). Users
whose whole history is new items keep a user embedding from the initialisation only.
``--stage valid`` trains on the leave-last-out view and reports the validation users
(test item hidden) for every ``--lams`` value: the only place the map's penalty is chosen.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from mpcrec.bench.quality_content import CONTENT, CONTENT_LAM, item_features
from mpcrec.bench.report import write_json
from mpcrec.data.interactions import IntArray
from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import Partition, partition_users
from mpcrec.data.split import Split
from mpcrec.data.split_cold import ColdStart, cold_start, known_catalogue
from mpcrec.errors import ConfigError
from mpcrec.files import write_atomic
from mpcrec.model.baselines import peertube_today_scorer, popularity_scorer
from mpcrec.model.content import content_rows, fit_content_map
from mpcrec.model.content_fedavg import ContentModel, train_content_fedavg
from mpcrec.model.content_initial import calibration_scale
from mpcrec.model.fedavg import FedConfig, train_fedavg
from mpcrec.model.metrics import METRICS, Ranks, Scorer, Scores, rank_held_out
from mpcrec.model.mf import Factors, Matrix
from mpcrec.model.tuned import FEDAVG

FRACTION = 0.2
CANDIDATES = ("new", "all")
ROWS = ("fedavg_content", "fedavg_plain", "peertube_today", "popularity", "popularity_hindsight")


def run_cold_start(args: argparse.Namespace, seeds: list[int]) -> int:
    """Run the cold-start protocol for ``seeds``; print the table, write JSON (and Markdown)."""
    if args.interactions is not None:
        raise ConfigError("--protocol cold-start runs on MovieLens 100k (it needs item metadata)")
    grid = ([CONTENT.map_lr], [CONTENT_LAM])
    if args.stage == "valid":
        grid = (_floats(args.map_lrs, "--map-lrs"), _floats(args.lams, "--lams"))
    started = time.perf_counter()
    data = load_movielens_100k()
    cold = cold_start(data, FRACTION)
    train, history = (cold.test, cold.test_history)
    if args.stage == "valid":
        train, history = (cold.tuning, cold.tuning_history)
    per_seed = [_one_seed(args, data, cold, train, history, seed, grid) for seed in seeds]
    report = _report(args, cold, train, history, seeds, per_seed, time.perf_counter() - started)
    write_json(args.out, report, hint="choose an --out path in a writable directory")
    if args.markdown:
        write_atomic(args.markdown, markdown(report).encode(), hint="choose a --markdown path")
    Console().print(_table(report))
    return 0


def _one_seed(
    args: argparse.Namespace,
    data: Any,
    cold: ColdStart,
    train: Split,
    history: Split,
    seed: int,
    grid: tuple[list[float], list[float]],
) -> dict[str, dict[str, dict[str, float]]]:
    """Every row's metrics, per candidate set, for one seed."""
    map_lrs, lams = grid
    partition = partition_users(data, args.instances, seed=seed)
    config = replace(FEDAVG, rounds=args.rounds)
    config = replace(config, local=replace(config.local, mf=replace(config.local.mf, dim=args.dim)))
    known = np.setdiff1d(np.arange(train.n_items), cold.new_items)
    seen = known_catalogue(train, known)  # the federation has not heard of the new items
    features = item_features(train)
    jitter = np.random.default_rng(seed).random(train.n_items) * 1e-9
    scorers: dict[str, Scorer] = {}
    ridge_model = None
    for map_lr in map_lrs:
        content = replace(CONTENT, map_lr=map_lr)
        model = train_content_fedavg(seen, partition, config, features[known], content, seed=seed)
        ridge_model = model if content.step == "ridge" else ridge_model
        rows = features @ model.content_map
        rows[known] = model.factors.item_emb
        name = "fedavg_content" if len(map_lrs) == 1 else f"fedavg_content map_lr={map_lr:g}"
        scorers[name] = _dot(model.factors.user_emb, rows, jitter)
    plain = _plain(seen, partition, config, seed, ridge_model, features[known])
    rows = np.zeros((train.n_items, args.dim))
    rows[known] = plain.item_emb
    scorers["fedavg_plain"] = _dot(plain.user_emb, rows, jitter)
    for lam in lams:
        suffix = "" if len(lams) == 1 else f" lam={lam:g}"
        ridge, calibrated = _ridge_rows(plain, rows, features, known, cold.new_items, lam)
        scorers[f"fedavg_ridge{suffix}"] = _dot(plain.user_emb, ridge, jitter)
        scorers[f"fedavg_ridge_calibrated{suffix}"] = _dot(plain.user_emb, calibrated, jitter)
    scorers["peertube_today"] = peertube_today_scorer(train, seed=seed)
    scorers["popularity"] = popularity_scorer(train, seed=seed)
    scorers["popularity_hindsight"] = _hindsight(train, history, jitter)
    stage = "test" if args.stage == "test" else "valid"
    return {
        name: {c: _metrics(scorer, cold, history, stage, c) for c in CANDIDATES}
        for name, scorer in scorers.items()
    }


def _plain(
    seen: Split,
    partition: Partition,
    config: FedConfig,
    seed: int,
    ridge_model: ContentModel | None,
    features: Matrix,
) -> Factors:
    """``fedavg_plain``'s model: a ridge-step model's rows ``E + F W`` are its rows exactly.

    The ridge step leaves the rows' trajectory and the users untouched (the draws are the
    same; tests/model/test_content_fedavg.py), so one training serves both rows.
    """
    if ridge_model is None:
        return train_fedavg(seen, partition, config, seed=seed)
    rows = ridge_model.collaborative + features @ ridge_model.content_map
    return Factors(user_emb=ridge_model.factors.user_emb, item_emb=rows)


def _ridge_rows(
    plain: Factors, rows: Matrix, features: Matrix, known: IntArray, new: IntArray, lam: float
) -> tuple[Matrix, Matrix]:
    """``rows`` with the new items' ridge rows ``F W`` (W fitted on ``plain``'s rows), and
    with them calibrated as the runtime calibrates them (one scale,
    :func:`~mpcrec.model.content_initial.calibration_scale`: the known rows' RMS norm)."""
    fitted = fit_content_map(features[known], plain.item_emb, lam=lam)
    ridge = rows.copy()
    ridge[new] = content_rows(features[new], fitted)
    calibrated = rows.copy()
    calibrated[new] = calibration_scale(plain.item_emb, ridge[new]) * ridge[new]
    return ridge, calibrated


def _dot(user_emb: Scores, item_emb: Scores, jitter: Scores) -> Scorer:
    def score(users: IntArray) -> Scores:
        return np.asarray(user_emb[users] @ item_emb.T + jitter, dtype=np.float64)

    return score


def _hindsight(train: Split, history: Split, jitter: Scores) -> Scorer:
    """Counts of the removed events (the new items' future popularity) over everything."""
    removed = np.bincount(history.train.items, minlength=train.n_items) - np.bincount(
        train.train.items, minlength=train.n_items
    )
    values = removed.astype(np.float64) + jitter

    def score(users: IntArray) -> Scores:
        return np.broadcast_to(values, (users.shape[0], train.n_items))

    return score


def _metrics(
    scorer: Scorer, cold: ColdStart, history: Split, stage: str, candidates: str
) -> dict[str, float]:
    """Metrics on the users whose held-out item is new, among ``candidates`` items."""
    new = cold.is_new(np.arange(history.n_items))

    def restricted(users: IntArray) -> Scores:
        scores = np.array(scorer(users), dtype=np.float64)
        if candidates == "new":
            scores[:, ~new] = -np.inf
        return scores

    target = history.test_item if stage == "test" else history.valid_item
    chosen = cold.is_new(target)
    ranks = rank_held_out(restricted, history, stage=stage).ranks[chosen]
    return {**Ranks(ranks=ranks).summary(), "users": float(chosen.sum())}


def _report(
    args: argparse.Namespace,
    cold: ColdStart,
    train: Split,
    history: Split,
    seeds: list[int],
    per_seed: list[dict[str, dict[str, dict[str, float]]]],
    elapsed: float,
) -> dict[str, Any]:
    names = list(per_seed[0])
    summary: dict[str, Any] = {}
    for name in names:
        summary[name] = {}
        for c in CANDIDATES:
            cell: dict[str, float] = {}
            for key in (*METRICS, "users"):
                values = [run[name][c][key] for run in per_seed]
                cell[key], cell[f"{key}_std"] = float(np.mean(values)), float(np.std(values))
            summary[name][c] = cell
    return {
        "dataset": "ml-100k",
        "protocol": "cold-start",
        "stage": args.stage,
        "new_items": int(cold.new_items.shape[0]),
        "new_fraction": FRACTION,
        "training_events": len(train.train),
        "removed_events": len(history.train) - len(train.train),
        "instances": args.instances,
        "rounds": args.rounds,
        "dim": args.dim,
        "seeds": seeds,
        "content_lam": CONTENT_LAM,
        "methods": summary,
        "per_seed": per_seed,
        "elapsed_s": elapsed,
        "load_average": list(os.getloadavg()),
    }


def _table(report: dict[str, Any]) -> Table:
    table = Table(
        title=f"cold start ({report['stage']}): {report['new_items']} new items, "
        f"seeds {report['seeds']}, users {report['methods']['popularity']['new']['users']:.0f}"
    )
    table.add_column("method")
    for c in CANDIDATES:
        table.add_column(f"ndcg@10 ({c})", justify="right")
        table.add_column(f"hr@10 ({c})", justify="right")
    for name, row in report["methods"].items():
        cells = []
        for c in CANDIDATES:
            cells += [f"{row[c]['ndcg@10']:.4f} ± {row[c]['ndcg@10_std']:.4f}"]
            cells += [f"{row[c]['hr@10']:.4f}"]
        table.add_row(name, *cells)
    return table


def markdown(report: dict[str, Any]) -> str:
    """The cold-start table as Markdown (means ± standard deviation over the seeds)."""
    head = "| method | candidates | " + " | ".join(METRICS) + " |"
    lines = [head, "|---|---" + "|---" * len(METRICS) + "|"]
    for name, row in report["methods"].items():
        for c in CANDIDATES:
            cells = [f"{row[c][k]:.4f} ± {row[c][k + '_std']:.4f}" for k in METRICS]
            lines.append(f"| {name} | {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def register_cold_start(parser: argparse.ArgumentParser) -> None:
    """The options of ``--protocol cold-start`` on ``mpcrec bench quality``."""
    group = parser.add_argument_group("cold start (--protocol cold-start)")
    group.add_argument(
        "--stage",
        choices=("test", "valid"),
        default="test",
        help="test (default), or valid: train on the leave-last-out view, report the "
        "validation users for every --lams value (tuning only)",
    )
    group.add_argument(
        "--map-lrs",
        default="0.01,0.03,0.1",
        help="steps of the content map tried with --stage valid",
    )
    group.add_argument(
        "--lams",
        default="0.1,0.3,1,3,10",
        help="ridge penalties of the content map tried with --stage valid",
    )


def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: expected numbers like 0.1,1") from None
    if not values or any(v < 0 for v in values):
        raise ConfigError(f"{option} {text!r}: give one or more non-negative numbers")
    return values
