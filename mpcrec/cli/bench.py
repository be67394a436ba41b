"""``mpcrec bench``: the benchmarks, each a subcommand that prints a table and writes JSON."""

from __future__ import annotations

import argparse
import importlib
from typing import Any


def register(sub: Any) -> None:
    """Add ``bench`` and every benchmark listed in :data:`mpcrec.cli.app.BENCHMARKS`."""
    from mpcrec.cli.app import BENCHMARKS

    parser: argparse.ArgumentParser = sub.add_parser(
        "bench",
        help="run a benchmark: prints a table, writes JSON",
        description="Benchmarks. Each prints a table and writes JSON (see docs/benchmarks/).",
    )
    bench_sub = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    for path in BENCHMARKS:
        importlib.import_module(path).register(bench_sub)
