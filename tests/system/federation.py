"""A federation on this machine for tests: certificates, configs, and real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from launch.round import Round
from launch.sqlite_store import SQLiteStore
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.local_beacon import start_local_beacon
from tests.net import free_port


@dataclass
class Federation:
    """Files and processes of one test federation under ``root``."""

    root: Path
    nodes: list[str]
    launcher_address: str = ""
    #: every node's ``privacy_floor:`` opt-outs (plaintext models add ``allow_plaintext``)
    privacy_floor: dict[str, Any] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def db(self) -> Path:
        return self.root / "launcher" / "launcher.sqlite"

    def write(
        self,
        *,
        model: dict[str, Any],
        rounds: dict[str, Any],
        schedule: dict[str, Any],
        node_extra: dict[str, dict[str, Any]] | None = None,
        host: str = "127.0.0.1",
        node_hosts: dict[str, str] | None = None,
        with_beacon: bool = True,
        privacy: dict[str, Any] | None = None,
    ) -> None:
        """Make the CA, the certificates and every config file, and start the local beacon
        (``with_beacon=False``: the named opt-out, for launchers that cannot reach it)."""
        pki = self.root / "pki"
        create_ca(pki / "ca")
        issue_certificate(pki / "ca", pki, instance_id="launcher", hosts=[host, "localhost"])
        self.launcher_address = f"{host}:{free_port()}"
        beacon: dict[str, Any] = {"unsafe_commit_reveal_only": True}
        if with_beacon:  # a local drand-format beacon, its own process
            self.procs["beacon"], beacon = start_local_beacon(
                self.root / "beacon", self.root / "beacon.log"
            )
        _dump(
            self.root / "federation.yaml",
            {
                "listen": self.launcher_address,
                "state_dir": "launcher",
                "tls": {
                    "cert": "pki/launcher.pem",
                    "key": "pki/launcher.key",
                    "ca": "pki/ca/ca.pem",
                },
                "model": model,
                "rounds": rounds,
                "schedule": schedule,
                "beacon": beacon,
                **({"privacy": privacy} if privacy is not None else {}),
            },
        )
        for name in self.nodes:
            node_host = (node_hosts or {}).get(name, host)
            issue_certificate(pki / "ca", pki, instance_id=name, hosts=[node_host])
            config: dict[str, Any] = {
                "instance_id": name,
                "launcher": self.launcher_address,
                "mpc_address": f"{node_host}:{free_port()}",
                "state_dir": f"nodes/{name}",
                "tls": {"cert": f"pki/{name}.pem", "key": f"pki/{name}.key", "ca": "pki/ca/ca.pem"},
            }
            if with_beacon:  # nodes pin the chain: they refuse a round bound to a past beacon
                config["beacon"] = {"chain_info": beacon["chain_info"]}
            floor = dict(self.privacy_floor)
            if model.get("aggregation", "secure") == "plaintext":  # the floor's named opt-out
                floor["allow_plaintext"] = True
            if floor:
                config["privacy_floor"] = floor
            config.update((node_extra or {}).get(name, {}))
            _dump(self.root / f"{name}.yaml", config)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start the launcher (``name="launcher"``) or a node as its own process."""
        if name == "launcher":
            cmd = ["launcher", "--config", str(self.root / "federation.yaml"), "--format", "json"]
        else:
            cmd = ["node", "--config", str(self.root / f"{name}.yaml")]
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [*args, sys.executable, "-m", "mpcrec.cli.app", "-v", *cmd],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=20)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name)

    def __enter__(self) -> Federation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def rounds(self) -> list[Round]:
        """Every round the launcher has stored so far."""
        if not self.db.exists():
            return []
        store = SQLiteStore(self.db)
        try:
            latest = store.latest_round()
            if latest is None:
                return []
            found = (store.get_round(i) for i in range(1, latest.round_id + 1))
            return [r for r in found if r is not None]
        finally:
            store.close()

    def wait_for(
        self, what: Callable[[list[Round]], bool], timeout: float, why: str
    ) -> list[Round]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.rounds()
            if what(found):
                return found
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise AssertionError(f"{name} exited with {proc.returncode}: {self.log(name)}")
            time.sleep(0.2)
        raise AssertionError(
            f"timed out waiting for {why}; rounds: {self.rounds()}\n{self.log('launcher')}"
        )

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text()[-3000:] if path.exists() else ""


def published(rounds: list[Round]) -> list[Round]:
    return [r for r in rounds if r.phase.value == "published"]


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data))
