"""``mpcrec demo``: a federation of MovieLens-100k instances on this machine, with its report."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="run a whole federation on this machine (MovieLens-100k) and report",
        description=(
            "Start a launcher and N node processes (real gRPC, mutual TLS), committees of 3 "
            "rotated every round, run R rounds, then report quality and cost."
        ),
    )
    parser.add_argument("--instances", type=int, default=20, help="node processes (default 20)")
    parser.add_argument("--rounds", type=int, default=200, help="published rounds (default 200)")
    parser.add_argument(
        "--state-dir", type=Path, help="keep all state here (default: a fresh temporary directory)"
    )
    parser.add_argument(
        "--plaintext", action="store_true", help="committees sum plain updates (comparison)"
    )
    parser.add_argument("--cooldown", type=int, default=3, help="rounds between two seats")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after (seconds)")
    parser.add_argument("--no-baselines", action="store_true", help="skip central MF and PeerTube")
    parser.add_argument("--format", choices=("rich", "json"), default="rich")
    parser.add_argument("--out", type=Path, help="JSON report (default: STATE_DIR/demo.json)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Prepare, run, evaluate, report."""
    from launch.sqlite_store import SQLiteStore
    from mpcrec.demo import (
        DemoRun,
        DemoSettings,
        assembled_user_embeddings,
        audit_verdict,
        costs,
    )
    from mpcrec.errors import ConfigError
    from mpcrec.model.metrics import evaluate
    from mpcrec.model.mf import Factors
    from mpcrec.node.movielens_trainer import movielens_setting

    if args.instances < 3 or args.rounds < 1:
        raise ConfigError(
            f"--instances {args.instances} --rounds {args.rounds}: need >= 3 and >= 1"
        )
    console = Console(stderr=args.format == "json")
    state = args.state_dir or Path(tempfile.mkdtemp(prefix="mpcrec-demo-"))
    state = state.resolve()
    state.mkdir(parents=True, exist_ok=True)
    console.print(f"state directory: {state}")
    settings = DemoSettings(
        state_dir=state,
        instances=args.instances,
        rounds=args.rounds,
        aggregation="plaintext" if args.plaintext else "secure",
        cooldown=args.cooldown,
        seed=args.seed,
        timeout_s=args.timeout,
        baselines=not args.no_baselines,
        json_events=args.format == "json",
    )
    split, factors, _ = movielens_setting(args.instances, args.seed)
    demo = DemoRun(settings)
    demo.prepare(factors.item_emb)
    started = time.monotonic()
    events = demo.run()
    wall = time.monotonic() - started
    audit = audit_verdict(state)
    store = SQLiteStore(demo.db)
    try:
        model = store.latest_model()
    finally:
        store.close()
    assert model is not None
    users = assembled_user_embeddings(state, demo.names, factors.user_emb)
    quality = {"federation": evaluate(Factors(users, model.array()).scores, split)}
    if settings.baselines:
        from mpcrec.model.baselines import peertube_today_scorer
        from mpcrec.model.mf import train_central
        from mpcrec.model.tuned import MF

        quality["central_mf"] = evaluate(train_central(split, MF, seed=args.seed).scores, split)
        quality["peertube_today"] = evaluate(peertube_today_scorer(split, seed=args.seed), split)
    report: dict[str, Any] = {
        "aggregation": settings.aggregation,
        "instances": args.instances,
        "rounds": args.rounds,
        "model_version": model.version,
        "hr@10": quality["federation"].get("hr@10"),
        "ndcg@10": quality["federation"].get("ndcg@10"),
        **costs(events, args.instances),
        "wall_s": wall,
        **audit.to_json(),
        "quality": quality,
        "load_average": os.getloadavg(),
        "state_dir": str(state),
    }
    out = args.out or state / "demo.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, out)
    console.print(_table(report))
    console.print(audit.summary(), highlight=False)
    console.print(f"report: {out}")
    return 0


def _table(report: dict[str, Any]) -> Table:
    table = Table(title=f"mpcrec demo ({report['aggregation']})")
    table.add_column("model")
    for metric in ("hr@10", "ndcg@10", "recall@20", "ndcg@20"):
        table.add_column(metric, justify="right")
    for name, values in report["quality"].items():
        table.add_row(
            name,
            *(
                f"{values.get(m, float('nan')):.4f}"
                for m in ("hr@10", "ndcg@10", "recall@20", "ndcg@20")
            ),
        )
    median = report["round_s_median"]
    table.caption = (
        f"{report['rounds_published']} rounds published, {report['rounds_aborted']} aborted; "
        f"{median if median is None else round(median, 2)} s per round (median); "
        f"{report['upload_bytes_per_instance'] or 0:.0f} bytes uploaded per instance and round; "
        f"{report['wall_s']:.0f} s in all"
    )
    return table
