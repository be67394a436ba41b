"""The small real federation ``mpcrec bench soak`` runs: a local beacon, a launcher and a few
nodes, each its own process (real gRPC with mutual TLS), configured for short rounds.

A round cannot be shorter than the protocol allows: it is bound to the first beacon round
due after ``commit_s + reveal_s`` (the local beacon's period is 1 s, drand's least), so it
takes about ``commit_s + reveal_s + 0.5`` s plus its work; the commit and reveal windows
close early once every node has answered, and the launcher ticks every 50 ms.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.local_beacon import HOST, free_loopback_port, start_local_beacon


@dataclass(frozen=True)
class SoakSettings:
    """What the soak federation runs (``mpcrec bench soak``'s options)."""

    state_dir: Path
    rounds: int = 2000
    nodes: int = 4
    aggregation: str = "plaintext"
    n_items: int = 64
    dim: int = 8
    commit_s: float = 0.5
    reveal_s: float = 0.5
    warm_seat: bool = True


@dataclass
class SoakFederation:
    """The files and processes of one soak federation."""

    settings: SoakSettings
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [f"soak-{k}" for k in range(self.settings.nodes)]

    @property
    def events_path(self) -> Path:
        return self.settings.state_dir / "events.jsonl"

    def prepare(self) -> None:
        """Certificates, the local beacon (started here), ``federation.yaml``, ``node.yaml``s."""
        root = self.settings.state_dir
        pki = root / "pki"
        create_ca(pki / "ca")
        for name in ["launcher", *self.names]:
            issue_certificate(pki / "ca", pki, instance_id=name, hosts=[HOST, "localhost"])
        launcher_at = f"{HOST}:{free_loopback_port()}"
        beacon = self._start_beacon()
        _dump(root / "federation.yaml", self._federation(launcher_at, beacon))
        for name in self.names:
            _dump(root / f"{name}.yaml", self._node(name, launcher_at, beacon["chain_info"]))

    def _federation(self, launcher_at: str, beacon: dict[str, str]) -> dict[str, Any]:
        s = self.settings
        return {
            "listen": launcher_at,
            "state_dir": "launcher",
            "tls": _tls("launcher"),
            "model": {"n_items": s.n_items, "dim": s.dim, "aggregation": s.aggregation},
            "rounds": {
                "committee_size": 3,
                "min_contributors": 3,
                "cooldown": 1,
                "commit_s": s.commit_s,
                "reveal_s": s.reveal_s,
                "collect_s": 30,
                "compute_s": 60,
            },
            "schedule": {"rounds": s.rounds, "min_instances": s.nodes, "retry_s": 0.2},
            "beacon": beacon,
        }

    def _node(self, name: str, launcher_at: str, chain_info: str) -> dict[str, Any]:
        s = self.settings
        config: dict[str, Any] = {
            "instance_id": name,
            "launcher": launcher_at,
            "mpc_address": f"{HOST}:{free_loopback_port()}",
            "state_dir": f"nodes/{name}",
            "tls": _tls(name),
            "trainer": {"kind": "drift"},
            "beacon": {"chain_info": chain_info},
            "committee": {"warm_seat": s.warm_seat},
        }
        if s.aggregation == "plaintext":  # the floor's named opt-out
            config["privacy_floor"] = {"allow_plaintext": True}
        return config

    def _start_beacon(self, timeout_s: float = 60.0) -> dict[str, str]:
        """Start ``mpcrec beacon serve`` (period 1 s) and return the ``beacon`` section."""
        root = self.settings.state_dir
        (root / "logs").mkdir(parents=True, exist_ok=True)
        self.procs["beacon"], beacon = start_local_beacon(
            root / "beacon", root / "logs" / "beacon.log", timeout_s=timeout_s
        )
        return beacon

    def _start(self, name: str, args: list[str]) -> None:
        root = self.settings.state_dir
        (root / "logs").mkdir(parents=True, exist_ok=True)
        out = open(root / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        stdout = open(self.events_path, "ab") if name == "launcher" else out  # noqa: SIM115
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "mpcrec.cli.app", *args],
            stdout=stdout,
            stderr=out,
            cwd=root,
            env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
            start_new_session=True,
        )

    def start(self) -> None:
        """Start the launcher and every node."""
        root = self.settings.state_dir
        config = str(root / "federation.yaml")
        self._start("launcher", ["launcher", "--config", config, "--format", "json"])
        for name in self.names:
            self._start(name, ["node", "--config", str(root / f"{name}.yaml")])

    def pids(self) -> dict[str, int]:
        """Each running process's pid, by role (``beacon``, ``launcher``, node names)."""
        return {name: p.pid for name, p in self.procs.items() if p.poll() is None}

    def exited(self) -> dict[str, int]:
        """The processes that have exited, with their return codes."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        limit = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, limit - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _tls(name: str) -> dict[str, str]:
    return {"cert": f"pki/{name}.pem", "key": f"pki/{name}.key", "ca": "pki/ca/ca.pem"}


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def wait_for_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Whether ``url`` answers before ``timeout_s`` (and while ``proc`` runs)."""
    limit = time.monotonic() + timeout_s
    while time.monotonic() < limit and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False
