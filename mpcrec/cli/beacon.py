"""``mpcrec beacon serve``: a local verifiable randomness beacon in drand's HTTP format.

For tests, the demo and test beds: one locally generated BLS12-381 key (kept 0600 in
``--state-dir``) signs round ``n`` once it is due, as a ``pedersen-bls-unchained`` drand
chain would; the launcher and the auditor verify it exactly as they verify drand. A real
federation points ``beacon.url`` at drand instead (docs/operations.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add the ``beacon`` subcommand."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "beacon", help="a local randomness beacon (drand's HTTP API and BLS scheme)"
    )
    commands = parser.add_subparsers(dest="beacon_command", required=True)
    serve = commands.add_parser("serve", help="serve /info and /public/{round} over HTTP")
    serve.add_argument("--state-dir", type=Path, required=True, help="key and chain info")
    serve.add_argument("--listen", default="127.0.0.1:8081", help="HOST:PORT (loopback)")
    serve.add_argument("--period", type=int, default=1, help="seconds per beacon round")
    serve.set_defaults(func=run)


def _secret(state_dir: Path) -> bytes:
    from mpcrec.files import write_atomic

    path = state_dir / "beacon.key"
    if not path.exists():
        write_atomic(path, os.urandom(32).hex().encode())
    return bytes.fromhex(path.read_text().strip())


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or SIGINT; the chain's /info is in STATE_DIR/chain-info.json."""
    from mpcrec.crypto.beacon import ChainInfo, LocalSigner
    from mpcrec.errors import ConfigError
    from mpcrec.federation.beacon_http import LocalBeacon
    from mpcrec.files import write_atomic

    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    signer = LocalSigner(_secret(state_dir))
    info = state_dir / "chain-info.json"
    genesis = int(time.time())
    if info.exists():  # the same chain across restarts
        genesis = ChainInfo.from_json(json.loads(info.read_text())).genesis_time
    beacon = LocalBeacon(signer, genesis_time=genesis, period=args.period)
    write_atomic(info, json.dumps(beacon.chain.to_json(), indent=1).encode(), mode=0o644)
    host, _, port = str(args.listen).rpartition(":")
    if not port.isdigit():
        raise ConfigError(f"--listen {args.listen!r} is not HOST:PORT")
    server = beacon.serve(host or "127.0.0.1", int(port))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"beacon chain {beacon.chain.chain_hash.hex()} on http://{args.listen}", flush=True)
    stop.wait()
    server.shutdown()
    return 0
