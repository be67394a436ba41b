"""A local randomness beacon (``mpcrec beacon serve``) as its own process, for one-machine
federations: the demo, the soak and federation benchmarks, the system tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mpcrec.errors import UserError
from mpcrec.loopback import HOST, free_loopback_port

__all__ = ["HOST", "free_loopback_port", "start_local_beacon"]


def start_local_beacon(
    state_dir: Path, log: Path, *, period: int = 1, timeout_s: float = 30.0
) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Start ``mpcrec beacon serve`` as its own process on a free loopback port; returns it
    and the ``beacon`` section of ``federation.yaml`` (URL, pinned chain info) once it
    answers ``/info``."""
    port = free_loopback_port()
    out = open(log, "ab")  # noqa: SIM115 - owned by the process
    command = ["beacon", "serve", "--state-dir", str(state_dir), "--listen", f"{HOST}:{port}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpcrec.cli.app", *command, "--period", str(period)],
        stdout=out,
        stderr=out,
        start_new_session=True,
    )
    url = f"http://{HOST}:{port}"
    limit = time.monotonic() + timeout_s
    while time.monotonic() < limit and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/info", timeout=1):
                return proc, {"url": url, "chain_info": str(state_dir / "chain-info.json")}
        except OSError:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise UserError(f"the local beacon did not start in {timeout_s:.0f}s", hint=f"see {log}")
