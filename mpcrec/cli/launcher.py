"""``mpcrec launcher --config federation.yaml``: run a federation's launcher."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("mpcrec.launcher")


def register(sub: Any) -> None:
    """Add the ``launcher`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "launcher",
        help="run the launcher: registry, rounds, committees (gRPC, mutual TLS)",
        description="Run a federation's launcher (see docs/operations.md).",
    )
    parser.add_argument("--config", type=Path, required=True, help="federation.yaml")
    parser.add_argument(
        "--format", choices=("rich", "json"), default="rich", help="live view or JSON events"
    )
    parser.add_argument(
        "--exit-when-done",
        action="store_true",
        help="exit once the schedule's number of rounds has been published (or the privacy "
        "budget is spent and no round is under way), after --linger seconds",
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=5.0,
        help="with --exit-when-done: keep serving this long after the last round, so every "
        "node can fetch the final model and its tree head (default 5 s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (or, with --exit-when-done, until the schedule is done)."""
    from launch.catalogue import LauncherCatalogue
    from launch.config import LauncherConfig
    from launch.launcher import Launcher
    from launch.service import collect_less, serve
    from launch.sqlite_store import SQLiteStore
    from launch.view import JsonEvents, RoundTable
    from mpcrec.audit.log import AuditLog
    from mpcrec.crypto.keys import NodeKeys

    config = LauncherConfig.load(args.config)
    view = JsonEvents() if args.format == "json" else RoundTable()
    store = SQLiteStore(config.state_dir / "launcher.sqlite")
    keys = NodeKeys.load_or_create(config.state_dir / "keys")  # signs audit entries and heads
    audit = AuditLog(store.connection, launcher_key=keys.signing)
    launcher = Launcher(
        store,
        policy=config.policy,
        spec=config.spec,
        schedule=config.schedule,
        on_event=view,
        audit=audit,
        launcher_key=keys.signing_public,
        privacy=config.privacy,
        beacon=config.beacon.source(),
        catalogue=LauncherCatalogue(config.state_dir / "catalogue", audit),  # docs/catalogue.md
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    collect_less()  # a thousand watchers: the collector would scan them again and again
    server = serve(launcher, config.listen, config.tls)
    scheduler = threading.Thread(target=launcher.run, args=(stop,), name="scheduler")
    scheduler.start()
    try:
        done_at: float | None = None
        while not stop.wait(1.0):  # checked once a second; --linger after the last round
            if args.exit_when_done and launcher.finished():
                done_at = time.monotonic() if done_at is None else done_at
                if time.monotonic() - done_at >= args.linger:  # nodes fetch the final model
                    stop.set()
    finally:
        stop.set()
        launcher.stopping.set()
        scheduler.join(timeout=10)
        server.stop(grace=1).wait(5)
        view.close()
        store.close()
    return 0
