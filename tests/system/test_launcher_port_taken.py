"""A launcher whose port is already taken says so and exits 2, without a traceback (the
failure ``make test`` once hit when another process held the port)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.system.federation import Federation

MODEL = {"n_items": 6, "dim": 2, "aggregation": "plaintext", "clip_norm": 20.0}
RULES = {"committee_size": 3, "min_contributors": 3, "cooldown": 1}


@pytest.mark.timeout(90)
def test_launcher_on_a_taken_port_exits_with_a_clear_error(tmp_path: Path) -> None:
    with Federation(tmp_path, ["tube-0", "tube-1", "tube-2"]) as federation:
        federation.write(model=MODEL, rounds=RULES, schedule={"rounds": 1}, with_beacon=False)
        host, port = federation.launcher_address.rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
            holder.bind((host, int(port)))
            holder.listen()
            proc = federation.start("launcher")
            assert proc.wait(timeout=60) == 2
        log = federation.log("launcher")
        assert f"cannot listen on {federation.launcher_address}" in log
        assert "Traceback" not in log
