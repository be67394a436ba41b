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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from mpcrec.bench.report import metric_table, write_json

if TYPE_CHECKING:
    from mpcrec.audit.verify import Report

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


@dataclass(frozen=True)
class _Timings:
    """How long generating and verifying the log took, and how big it was."""

    generate_s: float
    verify_s: float
    verify_cpu_s: float
    log_bytes: int
    load_before: tuple[float, float, float]


def run(args: argparse.Namespace) -> int:
    """Generate, verify, report; returns 0 when the log verified."""
    console = Console()
    with tempfile.TemporaryDirectory(prefix="mpcrec-bench-audit-") as tmp:
        log_path = args.log or Path(tmp) / "audit.jsonl"
        keys_path = Path(tmp) / "keys.json"
        generate_s = _generate(args, log_path, keys_path, console)
        report, timings = _verify(args, log_path, keys_path, generate_s)
    result = _result(args, report, timings)
    rows = [(key, _cell(value)) for key, value in result.items()]
    console.print(metric_table("mpcrec bench audit", rows, header=("measure", "value")))
    write_json(args.out, result)
    console.print(f"wrote {args.out}")
    return 0 if report.ok else 1


def _cell(value: Any) -> str:
    """Integers with thousands separators, everything else as ``str``."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _generate(args: argparse.Namespace, log_path: Path, keys_path: Path, console: Console) -> float:
    """Write the simulated federation's log and key file; returns the seconds it took."""
    from mpcrec.audit.simulate import simulate_federation

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
    return generate_s


def _verify(
    args: argparse.Namespace, log_path: Path, keys_path: Path, generate_s: float
) -> tuple[Report, _Timings]:
    """Verify the log as ``mpcrec audit verify --keys`` does, timed (wall clock and CPU)."""
    from mpcrec.audit.verify import verify_file

    load_before = os.getloadavg()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    report = verify_file(log_path, keys_path=keys_path, workers=args.workers or None)
    verify_s = time.perf_counter() - started
    verify_cpu_s = _cpu_seconds() - cpu_before
    timings = _Timings(generate_s, verify_s, verify_cpu_s, log_path.stat().st_size, load_before)
    return report, timings


def _result(args: argparse.Namespace, report: Report, t: _Timings) -> dict[str, Any]:
    entries = report.stats["entries"]
    return {
        "benchmark": "audit",
        "rounds": args.rounds,
        "instances": args.instances,
        "committee": args.committee,
        "entries": entries,
        "signatures": entries + report.stats["tree_heads"],
        "tree_heads": report.stats["tree_heads"],
        "log_bytes": t.log_bytes,
        "workers": args.workers or os.cpu_count(),
        "cpus": os.cpu_count(),
        "generate_s": round(t.generate_s, 2),
        "verify_s": round(t.verify_s, 2),
        "verify_us_per_entry": round(t.verify_s / max(entries, 1) * 1e6, 1),
        "verify_cpu_s": round(t.verify_cpu_s, 2),
        "target_s": TARGET_SECONDS,
        "within_target": t.verify_s <= TARGET_SECONDS,
        "verified": report.ok,
        "findings": len(report.findings),
        "loadavg_before": [round(x, 2) for x in t.load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
