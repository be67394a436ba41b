"""Entry point of the ``mpcrec`` command: wires the subcommand modules, nothing else.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds its
parser and sets ``func`` (a callable taking the parsed namespace and returning an exit
code). Benchmarks register under ``mpcrec bench``. A command line that names a command
imports only that command's module (``mpcrec node`` must not load the benchmarks, which
import torch: the node daemon runs without torch and CrypTen, docs/operations.md).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from rich.console import Console

from mpcrec import __version__
from mpcrec.errors import UserError

# Top-level subcommands: module paths, each with register(subparsers).
COMMANDS: tuple[str, ...] = (
    "mpcrec.cli.bench",
    "mpcrec.cli.launcher",
    "mpcrec.cli.node",
    "mpcrec.cli.pki",
    "mpcrec.cli.demo",
    "mpcrec.cli.peertube",
    "mpcrec.cli.serve",
    "mpcrec.cli.audit",
    "mpcrec.cli.beacon",
    "mpcrec.cli.catalogue",
)

# Benchmarks under `mpcrec bench`: module paths, each with register(subparsers).
BENCHMARKS: tuple[str, ...] = (
    "mpcrec.bench.quality",
    "mpcrec.bench.recommend",
    "mpcrec.bench.related",
    "mpcrec.bench.personalisation",
    "mpcrec.bench.transport",
    "mpcrec.bench.audit",
    "mpcrec.bench.secure_agg",
    "mpcrec.bench.catalogue",
    "mpcrec.bench.federation",
    "mpcrec.bench.faults",
    "mpcrec.bench.soak",
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Build the argument parser: with ``command`` (a name from :data:`COMMANDS`) only that
    subcommand, else all of them."""
    parser = argparse.ArgumentParser(
        prog="mpcrec",
        description=(
            "Privacy-preserving video recommendations for PeerTube: instances train one shared "
            "model; each round a random committee aggregates their updates inside secure "
            "multi-party computation (CrypTen)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"mpcrec {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    named = [path for path in COMMANDS if path.rsplit(".", 1)[-1] == command]
    for path in named or COMMANDS:
        importlib.import_module(path).register(sub)
    return parser


def named_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def configure_logging(verbosity: int) -> None:
    """Log to stderr, readable by an operator: time, level, component, message."""
    level = logging.WARNING - 10 * min(verbosity, 2)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mpcrec`` command; returns the process exit code."""
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(named_command(words))
    args = parser.parse_args(words)
    configure_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except UserError as err:
        console = Console(stderr=True)
        # soft_wrap: one message stays on one line (paths are not split at 80 columns)
        console.print(f"[bold red]error:[/] {err.message}", highlight=False, soft_wrap=True)
        if err.hint:
            console.print(f"[yellow]hint:[/] {err.hint}", highlight=False, soft_wrap=True)
        return err.exit_code
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/]")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
