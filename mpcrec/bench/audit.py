"""``mpcrec bench audit``: how long `mpcrec audit verify` takes on a long federation's log.

Generates the signed log of a simulated federation (``--rounds`` rounds of ``--instances``
instances, every entry a real launcher writes: registrations, round openings, one signed
seed commitment per instance and round, reveals, committee and dealer draws, one
contribution per instance, one result signature per member, publications, a signed tree
head per round; :mod:`mpcrec.audit.simulate`), writes it as JSON Lines,
then verifies it exactly as ``mpcrec audit verify --keys`` does and times that (wall clock,
and CPU seconds of the verifier and its workers, which a busy machine does not inflate as
much). Target: 10,000 rounds of 20 instances in at most 30 s on the 2-core reference
machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mpcrec.files import write_atomic

TARGET_SECONDS = 30.0


def register(sub: Any) -> None:
    """Add ``audit`` to the ``mpcrec bench`` subcommands."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="time the verification of a long federation's audit log",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=10_000, help="rounds (10000)")
    parser.add_argument("--instances", type=int, default=20, help="instances (20)")
    parser.add_argument("--committee", type=int, default=3, help="committee size (3)")
    parser.add_argument(
        "--workers", type=int, default=0, help="signature-verifying processes (0: all cores)"
    )
    parser.add_argument("--log", type=Path, help="keep the generated log here (default: temp)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.set_defaults(func=run)


def _cpu_seconds() -> float:
    """CPU time of this process and its reaped children (the verifying workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(args: argparse.Namespace) -> int:
    """Generate, verify, report; returns 0 when the log verified."""
    from mpcrec.audit.simulate import simulate_federation
    from mpcrec.audit.verify import verify_file

    console = Console()
    with tempfile.TemporaryDirectory(prefix="mpcrec-bench-audit-") as tmp:
        log_path = args.log or Path(tmp) / "audit.jsonl"
        keys_path = Path(tmp) / "keys.json"
        started = time.perf_counter()
        sim = simulate_federation(
            rounds=args.rounds,
            instances=args.instances,
            committee_size=args.committee,
        )
        sim.write(log_path)
        keys_path.write_text(json.dumps(sim.key_file()))
        generate_s = time.perf_counter() - started
        console.print(f"generated {len(sim.entries):,} entries in {generate_s:.1f} s; verifying")
        load_before = os.getloadavg()
        cpu_before = _cpu_seconds()
        started = time.perf_counter()
        report = verify_file(log_path, keys_path=keys_path, workers=args.workers or None)
        verify_s = time.perf_counter() - started
        verify_cpu_s = _cpu_seconds() - cpu_before
        log_bytes = log_path.stat().st_size
    result = {
        "benchmark": "audit",
        "rounds": args.rounds,
        "instances": args.instances,
        "committee": args.committee,
        "entries": report.stats["entries"],
        "signatures": report.stats["entries"] + report.stats["tree_heads"],
        "tree_heads": report.stats["tree_heads"],
        "log_bytes": log_bytes,
        "workers": args.workers or os.cpu_count(),
        "cpus": os.cpu_count(),
        "generate_s": round(generate_s, 2),
        "verify_s": round(verify_s, 2),
        "verify_us_per_entry": round(verify_s / max(report.stats["entries"], 1) * 1e6, 1),
        "verify_cpu_s": round(verify_cpu_s, 2),
        "target_s": TARGET_SECONDS,
        "within_target": verify_s <= TARGET_SECONDS,
        "verified": report.ok,
        "findings": len(report.findings),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    table = Table(title="mpcrec bench audit")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(
            key,
            f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value),
        )
    console.print(table)
    write_atomic(args.out, (json.dumps(result, indent=2) + "\n").encode())
    console.print(f"wrote {args.out}")
    return 0 if report.ok else 1
