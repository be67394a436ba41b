"""``mpcrec bench transport``: the secure round over mutually authenticated TLS against gloo.

Starts two warm local committees side by side, one whose parties talk over the TLS mesh
(:mod:`committees.transport.communicator`), one over plaintext gloo, and runs the same
secure round (``replicated``, 3 members: exact norm check, coordinate check, weighted sum,
reveal) on the same shares, alternating between the two so both see the same machine
load. For each size it reports the median round time of each transport and their ratio.

Target (issue 7): at 10 contributors x 1,000,000 values and at 10 x 53,824, the TLS round
takes at most 1.5x the gloo round.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from mpcrec.bench.report import write_json
from mpcrec.errors import UserError

TARGET_RATIO = 1.5
TRANSPORTS = ("gloo", "tls")


def register(sub: Any) -> None:
    """Add ``bench transport``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "transport",
        help="secure round over TLS vs gloo, side by side",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--contributors", type=int, default=10, help="contributions per round")
    parser.add_argument(
        "--dims", default="53824,1000000", help="comma-separated update lengths (values)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="measured rounds per transport")
    parser.add_argument("--timeout", type=float, default=300.0, help="per-step timeout (s)")
    parser.add_argument(
        "--no-links",
        action="store_true",
        help="skip the one-link comparison of raw TLS frames and a gRPC stream",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.set_defaults(func=run)


def member_shares(updates: list[np.ndarray], k: int = 3) -> list[list[np.ndarray]]:
    """Encode each update and split it into ``k`` member shares (share 1 + seeded ones)."""
    from mpcrec.crypto.codec import encode
    from mpcrec.crypto.sharing import expand_seed, split

    out: list[list[np.ndarray]] = [[] for _ in range(k)]
    for update in updates:
        enc = encode(update)
        first, seeds = split(enc, k)
        out[0].append(first)
        for j, seed in enumerate(seeds, start=1):
            out[j].append(expand_seed(seed, enc.size))
    return out


def run(args: argparse.Namespace) -> int:
    """Run the benchmark, print the table, write JSON; exit 0 only if every target holds."""
    dims = _dims(args)
    console = Console()
    load_before = _load()
    rows = _measure(args, dims, console)
    _print(console, rows)
    links = None
    if not args.no_links:
        from mpcrec.bench.transport_links import measure_links

        links = measure_links()
        _print_links(console, links)
    write_json(args.out, _result(args, rows, links, load_before))
    console.print(f"wrote {args.out}")
    return 0 if all(row["ratio"] <= TARGET_RATIO for row in rows) else 1


def _dims(args: argparse.Namespace) -> list[int]:
    """``--dims`` as positive integers (and the other sizes checked)."""
    try:
        dims = [int(d) for d in str(args.dims).split(",") if d]
    except ValueError as err:
        raise UserError(f"--dims {args.dims!r}: {err}", hint="e.g. --dims 53824,1000000") from err
    if args.contributors < 1 or args.repeats < 1 or not dims or min(dims) < 1:
        raise UserError("--contributors, --repeats and every --dims value must be positive")
    return dims


def _measure(args: argparse.Namespace, dims: list[int], console: Console) -> list[dict[str, Any]]:
    """One row per size, from two warm committees (TLS and gloo) used in turn."""
    from committees.local_committee import LocalCommittee
    from committees.session import SessionSettings

    settings = SessionSettings(protocol="replicated", timeout_s=args.timeout)
    rng = np.random.default_rng(args.seed)
    rows: list[dict[str, Any]] = []
    committees = {t: LocalCommittee(3, settings, transport=t) for t in TRANSPORTS}
    try:
        for committee in committees.values():
            committee.__enter__()
        for dim in dims:
            row = _measure_size(committees, dim, args.contributors, args.repeats, rng)
            rows.append(row)
            console.print(
                f"{args.contributors} x {dim}: gloo {row['gloo_s']:.3f} s, "
                f"tls {row['tls_s']:.3f} s (x{row['ratio']:.2f})"
            )
    finally:
        for committee in committees.values():
            committee.close()
    return rows


def _measure_size(
    committees: dict[str, Any], dim: int, contributors: int, repeats: int, rng: np.random.Generator
) -> dict[str, Any]:
    """The same round on the same shares, ``repeats + 1`` times per transport, alternating."""
    from mpcrec.secure.program import RoundSpec

    updates = [rng.normal(0, 0.01 / np.sqrt(dim), dim) for _ in range(contributors)]
    spec = RoundSpec(
        round_id=dim,
        dim=dim,
        weights=(1.0 / contributors,) * contributors,
        public_offset=np.zeros(dim),
        clip_norm=1.0,
        range_bound=1.0,
    )
    shares = member_shares(updates)
    times: dict[str, list[float]] = {t: [] for t in TRANSPORTS}
    params: dict[str, Any] = {}
    comm: dict[str, int] = {}
    for _ in range(repeats + 1):  # the first round of each is a warm-up
        for name, committee in committees.items():
            committee.stage(spec, shares)
            start = time.perf_counter()
            outcome = committee.run_staged()
            times[name].append(time.perf_counter() - start)
            params[name], comm[name] = outcome.params, outcome.comm_bytes
    return _row(dim, contributors, times, params, comm, updates)


def _result(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    links: dict[str, dict[str, float]] | None,
    load_before: str,
) -> dict[str, Any]:
    return {
        "benchmark": "transport",
        "contributors": args.contributors,
        "repeats": args.repeats,
        "protocol": "replicated",
        "members": 3,
        "target_ratio": TARGET_RATIO,
        "rows": rows,
        "links": links,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_before": load_before,
            "loadavg_after": _load(),
        },
    }


def _row(
    dim: int,
    contributors: int,
    times: dict[str, list[float]],
    params: dict[str, Any],
    comm: dict[str, int],
    updates: list[np.ndarray],
) -> dict[str, Any]:
    measured = {t: times[t][1:] for t in TRANSPORTS}
    gloo, tls = (statistics.median(measured[t]) for t in TRANSPORTS)
    plain = np.mean(updates, axis=0)
    return {
        "contributors": contributors,
        "dim": dim,
        "gloo_s": gloo,
        "tls_s": tls,
        "ratio": tls / gloo,
        "gloo_runs_s": measured["gloo"],
        "tls_runs_s": measured["tls"],
        "max_abs_error_vs_plaintext": {
            t: float(np.max(np.abs(np.asarray(params[t]) - plain))) for t in TRANSPORTS
        },
        "comm_bytes_member0": comm["tls"],
    }


def _print(console: Console, rows: list[dict[str, Any]]) -> None:
    table = Table(title="secure round, 3 members (replicated): TLS vs gloo, median seconds")
    for col in (
        "contributors x values",
        "gloo s",
        "tls s",
        "tls/gloo",
        "target",
        "max |tls-plain|",
    ):
        table.add_column(col, justify="right")
    for row in rows:
        ok = row["ratio"] <= TARGET_RATIO
        table.add_row(
            f"{row['contributors']} x {row['dim']:,}",
            f"{row['gloo_s']:.3f}",
            f"{row['tls_s']:.3f}",
            f"[{'green' if ok else 'red'}]{row['ratio']:.2f}[/]",
            f"<= {TARGET_RATIO}",
            f"{row['max_abs_error_vs_plaintext']['tls']:.1e}",
        )
    console.print(table)


def _print_links(console: Console, links: dict[str, dict[str, float]]) -> None:
    table = Table(title="one mutually authenticated link between two processes")
    cols = ("link", "round trip 8 B, µs", "10 x 8 MB, MB/s", "CPU s/GB send", "CPU s/GB recv")
    for col in cols:
        table.add_column(col, justify="right")
    for name, label in (("tls", "TLS 1.3 frames"), ("grpc", "gRPC bidi stream")):
        row = links[name]
        table.add_row(
            label,
            f"{row['rtt_us_median']:.0f}",
            f"{row['throughput_mb_s']:.0f}",
            f"{row['sender_cpu_s_per_gb']:.2f}",
            f"{row['receiver_cpu_s_per_gb']:.2f}",
        )
    console.print(table)


def _load() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "unknown"
