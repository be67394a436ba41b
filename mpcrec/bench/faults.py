"""``mpcrec bench faults``: every fault at every phase of a round, on a real federation.

Each fault gets its own federation (a launcher, five nodes in network namespaces, secure
committees of three, a 8 x 4 model, noise multiplier 1, short windows); once it has
published a first round, the fault is injected at each phase in turn, in consecutive rounds
(:mod:`mpcrec.bench.fault_cells`), and after each the invariants and the auditor's rules are
checked over everything so far. A cell is green when a later round published within the
bound and nothing was violated. Needs root (namespaces, ``tc``, a tmpfs). Prints the matrix
and writes JSON (default ``docs/benchmarks/faults.json``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mpcrec.bench.fault_cells import FAULTS, PHASES, RECOVERY_S, Cell, run_cell
from mpcrec.bench.fault_federation import FaultFederation, can_run
from mpcrec.bench.report import check_writable, write_json
from mpcrec.errors import ConfigError

NODES = [f"tube-{i}" for i in range(5)]
MODEL = {"n_items": 8, "dim": 4, "aggregation": "secure", "clip_norm": 10.0}
MODEL |= {"noise_multiplier": 1.0}
RULES = {"committee_size": 3, "min_contributors": 3, "cooldown": 1, "commit_s": 4}
RULES |= {"reveal_s": 4, "collect_s": 8, "compute_s": 60}
#: every member waits this long before fetching its shares, so that the computing phase
#: lasts long enough for a fault fired on entering it to land inside it; a member's first
#: committee party starts cold (torch, CrypTen: about 30 s on a loaded machine)
NODE = {"mpc_timeout_s": 45.0, "faults": {"member_delay_s": 1.0}}
FIRST_PUBLISH_S = 240.0


def register(sub: Any) -> None:
    """Add ``faults`` to the ``mpcrec bench`` subcommands."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "faults",
        help="inject every fault at every phase of a round; check the invariants",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--faults", nargs="+", choices=sorted(FAULTS), default=list(FAULTS))
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/faults.json"))
    parser.add_argument("--work-dir", type=Path, help="keep the federations' files here")
    parser.set_defaults(func=run)


def run_federation(
    root: Path, cells: Sequence[tuple[str, str]], *, dealer: bool = False
) -> list[Cell]:
    """One federation under ``root``; ``cells``: ``(fault, phase)`` in the order injected.
    Once a cell leaves the federation unable to publish, the rest are not run."""
    window = float(sum(RULES[k] for k in ("commit_s", "reveal_s", "collect_s", "compute_s")))
    out = [Cell(fault, phase) for fault, phase in cells]
    touched: set[int] = set()
    with FaultFederation(root, NODES) as fed:
        fed.write(model=MODEL, rounds={**RULES, "dealer": dealer}, node_extra=NODE)
        fed.start("launcher")
        for name in NODES:
            fed.start(name)
        first = fed.wait_event(
            lambda e: e.get("event") == "round" and e.get("state") == "published",
            FIRST_PUBLISH_S,
        )
        if first is None:
            for cell in out:
                cell.note = f"no first publish in {FIRST_PUBLISH_S:.0f} s: {fed.log('launcher')}"
            return out
        after = int(first["round_id"])
        for i, (fault, phase) in enumerate(cells):
            out[i] = run_cell(fed, FAULTS[fault], phase, after, window, touched)
            if out[i].recovery_s is None:
                for rest in out[i + 1 :]:
                    rest.note = f"not run: the federation did not recover from {fault}@{phase}"
                break
            after = max(r.round_id for r in fed.rounds())
    return out


def matrix(cells: Sequence[Cell], phases: Sequence[str]) -> Table:
    """Faults by phases; each cell green, red or not run, with the recovery time."""
    table = Table(title=f"fault matrix (recovery bound {RECOVERY_S:.0f} s)")
    table.add_column("fault")
    for phase in phases:
        table.add_column(phase, justify="right")
    for fault in dict.fromkeys(c.fault for c in cells):
        row = {c.phase: c for c in cells if c.fault == fault}
        table.add_row(fault, *(_mark(row.get(p)) for p in phases))
    return table


def markdown(cells: Sequence[Cell], phases: Sequence[str]) -> str:
    """The matrix as a Markdown table: recovery seconds when green, RED, or - (not run)."""
    lines = ["| fault | " + " | ".join(phases) + " |", "|---" * (len(phases) + 1) + "|"]
    for fault in dict.fromkeys(c.fault for c in cells):
        row = {c.phase: c for c in cells if c.fault == fault}
        marks = [_mark(row.get(p)).replace("[green]", "").replace("[/]", "") for p in phases]
        lines.append(f"| {fault} | " + " | ".join(m.replace("[red]", "") for m in marks) + " |")
    return "\n".join(lines)


def _mark(cell: Cell | None) -> str:
    if cell is None or cell.status == "not run":
        return "-"
    if cell.status == "green":
        return f"[green]ok {cell.recovery_s:.0f}s[/]"
    return "[red]RED[/]"


def run(args: argparse.Namespace) -> int:
    """Run the requested cells; 0 when every cell run is green."""
    reason = can_run()
    if reason:
        raise ConfigError(f"bench faults {reason}", hint="run it as root on Linux with iproute2")
    check_writable(args.out)
    console = Console()
    started, cells = time.monotonic(), []
    base = args.work_dir or Path(tempfile.mkdtemp(prefix="mpcrec-faults-"))
    for name in args.faults:
        fault = FAULTS[name]
        root = base / name
        console.print(f"{name}: {fault.what} ({root})")
        cells += run_federation(root, [(name, p) for p in args.phases], dealer=fault.dealer)
        console.print(matrix(cells, args.phases))
        _write(args, cells, time.monotonic() - started)  # after each fault: a partial run
    print(markdown(cells, args.phases))
    console.print(f"wrote {args.out}")
    return 0 if all(c.status == "green" for c in cells) else 1


def _write(args: argparse.Namespace, cells: Sequence[Cell], seconds: float) -> None:
    result = {
        "benchmark": "faults",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": list(os.getloadavg()),
        "seconds": round(seconds, 1),
        "recovery_bound_s": RECOVERY_S,
        "federation": {"nodes": len(NODES), "model": MODEL, "rounds": RULES, "node": NODE},
        "faults": {name: FAULTS[name].what for name in args.faults},
        "cells": [c.to_json() for c in cells],
    }
    write_json(args.out, result)
