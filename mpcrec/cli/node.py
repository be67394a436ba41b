"""``mpcrec node --config node.yaml``: run an instance's daemon."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the ``node`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "node",
        help="run an instance: train at home, contribute sealed shares, serve on committees",
        description="Run an instance's daemon (see docs/operations.md).",
    )
    parser.add_argument("--config", type=Path, required=True, help="node.yaml")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Follow the launcher until SIGTERM or Ctrl-C."""
    from mpcrec.node.config import NodeConfig
    from mpcrec.node.daemon import Node

    node = Node(NodeConfig.load(args.config))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        node.run(stop)
    finally:
        node.close()
    return 0
