"""``mpcrec serve``: the recommendation API alone, from a model snapshot file.

Serves ``GET /api/v1/recommendations/videos`` and ``GET /healthz`` to callers with the
shared secret of ``--secret-file`` (see
:mod:`mpcrec.node.http_api`) from a snapshot written by ``ModelSnapshot.save``, and
re-reads the file when it changes (the node writes a new one atomically each round), so a
new model is served without a restart. The node daemon embeds the same server.
"""

from __future__ import annotations

import argparse
import logging
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from mpcrec.errors import UserError
from mpcrec.node.api_auth import load_secret
from mpcrec.node.http_api import ApiServer
from mpcrec.node.recommender import Recommender
from mpcrec.node.seqrec_serving import load_any

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add ``serve``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="serve recommendations over HTTP from a model snapshot file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``serve`` (shared with ``python -m mpcrec.cli.serve``)."""
    parser.add_argument("--snapshot", type=Path, required=True, help="model snapshot (.npz)")
    parser.add_argument(
        "--secret-file",
        type=Path,
        required=True,
        help="file with the API's shared secret (mode 0600; every request must carry it "
        "as Authorization: Bearer SECRET)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9090, help="port (0: any free one)")
    parser.add_argument(
        "--watch-seconds",
        type=float,
        default=5.0,
        help="how often to look for a new snapshot file (0: never)",
    )
    parser.set_defaults(func=run)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    if not 0 <= args.port < 65536:
        raise UserError(f"--port {args.port} is not a TCP port", hint="use 1-65535, or 0")
    secret = load_secret(args.secret_file)
    recommender = Recommender(load_any(args.snapshot))
    mtime = args.snapshot.stat().st_mtime_ns
    server = ApiServer(recommender, secret=secret, host=args.host, port=args.port)
    server.start()
    signal.signal(signal.SIGTERM, _stop)
    Console(stderr=True).print(
        f"serving recommendations on {server.url} (authenticated: shared secret required)",
        highlight=False,
        soft_wrap=True,
    )
    try:
        while True:
            time.sleep(args.watch_seconds if args.watch_seconds > 0 else 3600)
            if args.watch_seconds > 0:
                mtime = _reload_if_changed(args.snapshot, mtime, recommender)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _reload_if_changed(path: Path, mtime: int, recommender: Recommender) -> int:
    """Publish the file's snapshot if it changed; keep serving the old one if it is bad."""
    try:
        current = path.stat().st_mtime_ns
        if current == mtime:
            return mtime
        recommender.publish(load_any(path))
        log.info("serving new model snapshot %s", path)
        return current
    except (OSError, UserError) as err:
        log.error("keeping the current model: %s", err)
        return mtime


def main(argv: list[str] | None = None) -> int:
    """``python -m mpcrec.cli.serve``: the server alone, without the other commands' imports."""
    parser = argparse.ArgumentParser(prog="python -m mpcrec.cli.serve", description=__doc__)
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except UserError as err:
        Console(stderr=True).print(f"[bold red]error:[/] {err}", highlight=False)
        return err.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
