"""``mpcrec demo``: a federation of MovieLens-100k instances on this machine, with its report."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from mpcrec.demo_dpals import HELP as DPALS_HELP
from mpcrec.demo_dpals import ROUNDS as DPALS_ROUNDS
from mpcrec.demo_privacy import DELTA, DP_ROUNDS, EPSILON, NO_DP_HELP, PLAIN_ROUNDS
from mpcrec.files import write_atomic

DEFAULT_MODEL = "dpals"
MODEL_HELP = (
    f"{DPALS_HELP}, or seqrec (order-aware: a viewer is their recent videos, related videos "
    f"come from the current one; mpcrec.demo_seqrec) (default {DEFAULT_MODEL}; dpals runs "
    f"{DPALS_ROUNDS} round(s))"
)

if TYPE_CHECKING:
    from mpcrec.data.split import Split
    from mpcrec.demo import DemoRun, DemoSettings
    from mpcrec.model.mf import Factors


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="run a whole federation on this machine (MovieLens-100k) and report",
        description=(
            "Start a launcher and N node processes (real gRPC, mutual TLS), committees of 3 "
            "rotated every round, run R rounds, then report quality and cost. Private by "
            f"default: user-level differential privacy at epsilon {EPSILON:g}, delta "
            f"{DELTA:g}, and by default the model is DP-ALS (--model dpals: each instance "
            "solves its users at home and bounds each user's statistics, the committee "
            "adds the noise to their sum inside MPC, the item factors are solved publicly "
            "from it; it beats the DP-FedAvg demo, --model mf, and popularity; "
            "docs/benchmarks/demo.md)."
        ),
    )
    parser.add_argument("--instances", type=int, default=20, help="node processes (default 20)")
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"published rounds (default: {DPALS_ROUNDS} for dpals; for mf {DP_ROUNDS} with "
        f"user-level DP, {PLAIN_ROUNDS} with --no-dp)",
    )
    parser.add_argument("--model", choices=("mf", "dpals", "seqrec"), default=None, help=MODEL_HELP)
    parser.add_argument("--no-dp", action="store_true", help=NO_DP_HELP)
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
    parser.add_argument(
        "--new-videos",
        action="store_true",
        help="hold back the newest 20%% of the videos; instances publish them between rounds "
        "(runs --model mf: only its model grows with the catalogue yet)",
    )
    parser.add_argument(
        "--publish-from",
        type=int,
        default=0,
        metavar="M",
        help="with --new-videos: the first batch comes out once model M + 2 is published, "
        "so the model trains M rounds on the videos of the start first (default 0)",
    )
    parser.add_argument(
        "--ease-slice-values",
        type=int,
        default=450_000,
        metavar="N",
        help="--model seqrec --no-dp: the co-view Gram is released first, in secure rounds "
        "of at most N counts (default 450000: 4 rounds for 1,682 videos)",
    )
    parser.add_argument("--format", choices=("rich", "json"), default="rich")
    parser.add_argument("--out", type=Path, help="JSON report (default: STATE_DIR/demo.json)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Prepare, run, evaluate, report."""
    from mpcrec import demo_dpals
    from mpcrec.demo import DemoRun, audit_verdict, costs
    from mpcrec.demo_catalogue import ServedLists, catalogue_report
    from mpcrec.demo_privacy import privacy_line, private_report
    from mpcrec.node.movielens_trainer import movielens_setting
    from mpcrec.process_usage import PeakMemory

    args.model = args.model or ("mf" if args.new_videos else DEFAULT_MODEL)
    if args.rounds is None:
        args.rounds = PLAIN_ROUNDS if args.no_dp else DP_ROUNDS
        args.rounds = DPALS_ROUNDS if args.model == "dpals" else args.rounds  # ALS_DP's
        if args.no_dp and args.model == "seqrec":
            from mpcrec.model.tuned_sequence import SEQ_FED_ROUNDS

            args.rounds = SEQ_FED_ROUNDS
    _check(args)
    console = Console(stderr=args.format == "json")
    split, factors, _ = movielens_setting(args.instances, args.seed)
    settings = _settings(args, _state_dir(args, console), users=split.n_users)
    demo = DemoRun(settings)
    dpals, seqrec = args.model == "dpals", args.model == "seqrec"
    initial = demo_dpals.initial_items(split) if dpals else factors.item_emb
    demo.prepare(_initial(args, split.n_items) if seqrec else initial)
    started = time.monotonic()
    with (
        PeakMemory(lambda: [p.pid for p in tuple(demo.procs.values())]) as memory,
        ServedLists(demo) as served,
    ):
        events = demo.run()
    wall = time.monotonic() - started
    audit = audit_verdict(settings.state_dir)
    version, quality = _seq_quality(demo, split) if seqrec else _quality(demo, split, factors)
    report: dict[str, Any] = {
        **(
            demo_dpals.private_report(settings)
            if dpals
            else private_report(settings, split, quality)
        ),
        "aggregation": settings.aggregation,
        "model": settings.model,
        "instances": args.instances,
        "rounds": args.rounds,
        "model_version": version,
        "hr@10": quality["federation"].get("hr@10"),
        "ndcg@10": quality["federation"].get("ndcg@10"),
        **costs(events, args.instances),
        **memory.to_json(),
        "wall_s": wall,
        **audit.to_json(),
        "quality": quality,
        "load_average": os.getloadavg(),
        "state_dir": str(settings.state_dir),
    }
    if settings.new_videos:
        report["new_videos"] = catalogue_report(demo, served)
    out = args.out or settings.state_dir / "demo.json"
    write_atomic(out, json.dumps(report, indent=2).encode(), mode=0o644)
    console.print(_table(report))
    console.print((demo_dpals.privacy_line if dpals else privacy_line)(report), highlight=False)
    console.print(audit.summary(), highlight=False)
    console.print(f"report: {out}")
    return 0


def _check(args: argparse.Namespace) -> None:
    from mpcrec.errors import ConfigError

    if args.instances < 3 or args.rounds < 1:
        raise ConfigError(
            f"--instances {args.instances} --rounds {args.rounds}: need >= 3 and >= 1"
        )
    if args.plaintext and not args.no_dp:
        raise ConfigError(
            "--plaintext with differential privacy: members would see every update",
            hint="add --no-dp to compare the plaintext path (no privacy at all)",
        )
    if (args.publish_from and not args.new_videos) or args.publish_from < 0:
        raise ConfigError(
            f"--publish-from {args.publish_from}: needs --new-videos and a count >= 0",
            hint="add --new-videos, or drop --publish-from",
        )
    if args.new_videos and args.model != "mf":
        raise ConfigError(
            f"--new-videos with --model {args.model}: only mf's model grows with the catalogue",
            hint="use --new-videos alone (it runs --model mf, DP-FedAvg) or drop it",
        )


def _state_dir(args: argparse.Namespace, console: Console) -> Path:
    """``--state-dir`` (created) or a fresh temporary directory, as an absolute path."""
    state = args.state_dir or Path(tempfile.mkdtemp(prefix="mpcrec-demo-"))
    state = state.resolve()
    state.mkdir(parents=True, exist_ok=True)
    console.print(f"state directory: {state}")
    return state


def _settings(args: argparse.Namespace, state: Path, *, users: int) -> DemoSettings:
    from mpcrec.demo import DemoSettings

    return DemoSettings(
        state_dir=state,
        instances=args.instances,
        rounds=args.rounds,
        aggregation="plaintext" if args.plaintext else "secure",
        cooldown=args.cooldown,
        seed=args.seed,
        timeout_s=args.timeout,
        baselines=not args.no_baselines,
        json_events=args.format == "json",
        dp=not args.no_dp,
        users=users,
        model=args.model,
        new_videos=args.new_videos,
        publish_from=args.publish_from,
        ease_slice_values=args.ease_slice_values,
    )


def _initial(args: argparse.Namespace, n_items: int) -> Any:
    from mpcrec.demo_seqrec import initial_model

    return initial_model(n_items, args.seed)


def _seq_quality(demo: DemoRun, split: Split) -> tuple[int, dict[str, dict[str, float]]]:
    from mpcrec.demo_seqrec import quality

    s = demo.settings
    return quality(
        demo.db,
        split,
        instances=s.instances,
        rounds=s.rounds,
        seed=s.seed,
        baselines=s.baselines,
        dp=s.dp,
    )


def _quality(
    demo: DemoRun, split: Split, factors: Factors
) -> tuple[int, dict[str, dict[str, float]]]:
    """The published model's version, and the test metrics of the federation (its last
    model with the nodes' user embeddings) and, with baselines, of central MF and PeerTube."""
    from launch.sqlite_store import SQLiteStore
    from mpcrec.demo import assembled_user_embeddings
    from mpcrec.demo_catalogue import as_items
    from mpcrec.model.metrics import evaluate
    from mpcrec.model.mf import Factors

    store = SQLiteStore(demo.db)
    try:
        model = store.latest_model()
    finally:
        store.close()
    assert model is not None
    s = demo.settings
    items = as_items(s, model.array())  # --new-videos: catalogue rows back to ML items
    if s.model == "dpals":
        from mpcrec.demo_dpals import quality as dpals_quality

        quality = dpals_quality(split, s.instances, items, seed=s.seed)
    else:
        users = assembled_user_embeddings(s.state_dir, demo.names, factors.user_emb)
        quality = {"federation": evaluate(Factors(users, items).scores, split)}
    if s.baselines:
        from mpcrec.model.baselines import peertube_today_scorer, popularity_scorer
        from mpcrec.model.mf import train_central
        from mpcrec.model.tuned import MF

        quality["central_mf"] = evaluate(train_central(split, MF, seed=s.seed).scores, split)
        quality["peertube_today"] = evaluate(peertube_today_scorer(split, seed=s.seed), split)
        quality["popularity"] = evaluate(popularity_scorer(split, seed=s.seed), split)
    return model.version, quality


def _table(report: dict[str, Any]) -> Table:
    table = Table(title=f"mpcrec demo ({report['aggregation']}, {report.get('model', 'mf')})")
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
        f"{report['wall_s']:.0f} s in all; peak resident memory {report['peak_rss_mib']:.0f} MiB "
        f"over {report['peak_processes']} processes"
    )
    return table
