"""The tests' ports: no two processes of one run are handed the same one (tests/net.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests import net

REPO = Path(__file__).resolve().parents[1]
DRAWS = 800  # each process; of ~12,700 ports below the range, unreserved draws share ~50


@pytest.mark.timeout(60)
def test_two_processes_of_one_run_never_get_the_same_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPCREC_TEST_PORTS", str(tmp_path / "ports"))  # net.PORTS_ENV: this run's
    draw = f"from tests.net import free_port\nprint(*(free_port() for _ in range({DRAWS})))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    other = subprocess.Popen([sys.executable, "-c", draw], stdout=subprocess.PIPE, env=env)
    mine = [net.free_port() for _ in range(DRAWS)]
    theirs = [int(p) for p in other.communicate(timeout=50)[0].split()]

    assert other.returncode == 0 and len(theirs) == DRAWS
    assert len(set(mine)) == DRAWS and len(set(theirs)) == DRAWS
    assert not set(mine) & set(theirs)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # still a usable port
        sock.bind(("127.0.0.1", mine[-1]))
