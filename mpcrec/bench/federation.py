"""``mpcrec bench federation --instances N [N ...]``: one launcher under N real protocol clients.

For each N: a real launcher process (``mpcrec launcher``, the asynchronous gRPC server,
SQLite store and signed audit log, mutual TLS) with the local beacon, and N simulated
instances packed into ``--processes`` load processes (:mod:`mpcrec.bench.federation_load`:
each instance with its own certificate from the federation CA and its own keys, registering,
committing and revealing seeds, uploading a sealed plaintext update of a small model,
watching rounds; the committee of 3 is drawn among them and its members sign the plaintext
aggregate: simulated members, no CrypTen). Reported per N, over the published rounds:

- round latency (open to published, from the launcher's events): median and p95;
- launcher CPU seconds per round (``/proc/PID/stat`` utime + stime over each round);
- launcher resident memory (``/proc/PID/status`` VmRSS, the largest sampled, and VmHWM);
- errors: failed calls or harness failures in any load process, aborted rounds.

Certificates are made once (EC P-256, two processes) and cached in ``--pki``. Every round
waits for the beacon round due after the commit and reveal windows (``--windows`` s each).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import tempfile
import time
from bisect import bisect_right
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mpcrec.bench.federation_run import (
    FederationRun,
    Sample,
    certificates,
    instance_names,
)
from mpcrec.bench.federation_timing import timing
from mpcrec.bench.report import check_writable, write_json

DEFAULT_OUT = Path("docs/benchmarks/federation.json")


def register(sub: Any) -> None:
    """Add ``federation`` to the ``mpcrec bench`` subcommands."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "federation",
        help="one launcher under N simulated instances: round latency, CPU, memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--instances", type=int, nargs="+", default=[100], help="N (100)")
    parser.add_argument("--rounds", type=int, default=5, help="published rounds per N (5)")
    parser.add_argument("--processes", type=int, default=4, help="load processes (4)")
    parser.add_argument("--windows", type=float, default=2.0, help="commit/reveal s (2)")
    parser.add_argument("--timeout", type=float, default=900.0, help="per N, s (900)")
    default_pki = Path(tempfile.gettempdir()) / "mpcrec-bench-federation-pki"
    parser.add_argument("--pki", type=Path, default=default_pki, help="certificate cache")
    parser.add_argument(
        "--log-calls",
        choices=["one", "separate"],
        default="one",
        help="each instance's log check: one GetLogProofs call, or GetTreeHead and a "
        "GetInclusionProof per entry (one)",
    )
    parser.add_argument(
        "--model-fetch",
        choices=["announced", "collecting"],
        default="announced",
        help="when each instance fetches a model: once announced, as a serving node follows "
        "the newest, or only when a round collects (announced)",
    )
    parser.add_argument("--keep", action="store_true", help="keep each run's state directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results")
    parser.set_defaults(func=run)


def _cpu_at(samples: list[Sample], when: float) -> float:
    """The launcher's CPU seconds at ``when`` (the last sample before it)."""
    index = bisect_right([s.time for s in samples], when) - 1
    return samples[max(index, 0)].cpu_s


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(run: FederationRun, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of one run (see the module docstring)."""
    opened: dict[int, float] = {}
    latency, cpu, aborted = [], [], []
    for e in events:
        if e.get("event") != "round":
            continue
        rid, at = int(e["round_id"]), float(e["time"])
        opened.setdefault(rid, at)
        if e["state"] == "published":
            latency.append(at - opened[rid])
            if run.samples:
                cpu.append(_cpu_at(run.samples, at) - _cpu_at(run.samples, opened[rid]))
        elif e["state"] == "aborted":
            aborted.append(f"round {rid}: {e.get('reason', '')}")
    loads = run.load_reports()
    errors = [err for report in loads for err in report.get("errors", [])]
    calls: dict[str, int] = {}
    for report in loads:
        for rpc, count in report.get("calls", {}).items():
            calls[rpc] = calls.get(rpc, 0) + int(count)
    unfinished = sum(int(r.get("unfinished", 0)) for r in loads)
    registered = [float(e["time"]) for e in events if e.get("event") == "registered"]
    return {
        "instances": run.instances,
        "rounds_published": len(latency),
        "rounds_aborted": aborted,
        "round_s": latency,
        "round_s_median": statistics.median(latency) if latency else None,
        "round_s_p95": _percentile(latency, 0.95),
        "launcher_cpu_s_per_round": cpu,
        "launcher_cpu_s_per_round_median": statistics.median(cpu) if cpu else None,
        "launcher_rss_max_bytes": max((s.rss for s in run.samples), default=None),
        "launcher_peak_rss_bytes": run.samples[-1].peak_rss if run.samples else None,
        "registration_s": max(registered) - min(registered) if registered else None,
        "errors": len(errors),
        "unfinished_instances": unfinished,
        "error_examples": errors[:5],
        "refused": [r.get("refused", {}) for r in loads],
        "calls": calls,
        "load_processes": run.processes,
        "windows_s": run.windows_s,
        "log_calls": "one" if run.one_log_call else "separate",
        "model_fetch": "announced" if run.follow_models else "collecting",
        "timing": timing(events, loads, window_s=run.windows_s),
    }


def run_one(args: argparse.Namespace, instances: int, root: Path) -> dict[str, Any]:
    """Run N = ``instances`` to the end of its rounds; its figures."""
    cert_s = certificates(args.pki, ["launcher", *instance_names(instances)])
    run = FederationRun(
        root=root,
        pki=args.pki,
        instances=instances,
        rounds=args.rounds,
        processes=args.processes,
        windows_s=args.windows,
        timeout_s=args.timeout,
        one_log_call=args.log_calls == "one",
        follow_models=args.model_fetch == "announced",
    )
    load_before = os.getloadavg()
    try:
        run.start()
        run.follow()
    finally:
        run.stop()
    result = summarise(run, run.events())
    result["certificates_s"] = cert_s
    result["load_average_before"] = list(load_before)
    result["load_average_after"] = list(os.getloadavg())
    return result


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(results: list[dict[str, Any]]) -> Table:
    """One row per N."""
    out = Table(title="one launcher under N simulated instances (plaintext, 50 x 8 model)")
    columns = ["N", "rounds", "round s (median)", "round s (p95)", "launcher CPU s/round"]
    columns += ["launcher RSS MB (max)", "VmHWM MB", "errors", "aborted", "load avg (1 min)"]
    for name in columns:
        out.add_column(name, justify="right")
    for r in results:
        out.add_row(
            str(r["instances"]),
            str(r["rounds_published"]),
            _s(r["round_s_median"]),
            _s(r["round_s_p95"]),
            _s(r["launcher_cpu_s_per_round_median"]),
            _mb(r["launcher_rss_max_bytes"]),
            _mb(r["launcher_peak_rss_bytes"]),
            str(r["errors"]),
            str(len(r["rounds_aborted"])),
            f"{r['load_average_before'][0]:.2f} / {r['load_average_after'][0]:.2f}",
        )
    return out


def timing_table(result: dict[str, Any]) -> Table:
    """Where one N's rounds spent their time: per state, how long after the launcher
    entered it the instances received its announcement, and had their call answered."""
    out = Table(title=f"N = {result['instances']}: s after the launcher entered each state")
    kinds = ["written_s", "delivery_s", "sent_s", "answered_s"]
    out.add_column("state")
    for name in ["launcher wrote", "instances received", "sent call", "call answered"]:
        out.add_column(f"{name} p50 / p95", justify="right")
    found = result["timing"]
    for state in found["delivery_s"]:
        cells = [found[k].get(state, {}) for k in kinds]
        out.add_row(state, *(f"{_s(c.get('p50'))} / {_s(c.get('p95'))}" for c in cells))
    return out


def _exit_on_sigterm(*_: Any) -> None:
    raise SystemExit(143)


def run(args: argparse.Namespace) -> int:
    """Each N in turn; the table, then the JSON."""
    check_writable(args.out)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so every process started is stopped
    console = Console(width=160)
    results = []
    for instances in args.instances:
        root = Path(tempfile.mkdtemp(prefix=f"mpcrec-federation-{instances}-"))
        started = time.monotonic()
        try:
            results.append(run_one(args, instances, root))
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
        console.print(f"N = {instances}: {time.monotonic() - started:.0f} s")
    for result in results:
        console.print(timing_table(result))
    console.print(table(results))
    write_json(
        args.out,
        {
            "benchmark": "federation",
            "command": "mpcrec bench federation " + " ".join(f"{a}" for a in args.instances),
            "cpus": os.cpu_count(),
            "results": results,
        },
    )
    console.print(f"wrote {args.out}")
    return 1 if any(r["errors"] or r["rounds_aborted"] for r in results) else 0
