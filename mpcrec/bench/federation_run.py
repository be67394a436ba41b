"""One run of ``mpcrec bench federation``: a real launcher process and N simulated instances.

:func:`certificates` makes (once, cached) the federation CA and N instance certificates (EC
P-256, in a few processes); :class:`FederationRun` writes ``federation.yaml``, starts the
local beacon (``mpcrec beacon serve``), the launcher (``mpcrec launcher --format json
--exit-when-done``) and the load processes (:mod:`mpcrec.bench.federation_load`), samples the
launcher's ``/proc`` while the rounds run, and reads the rounds from its JSON events.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.errors import UserError
from mpcrec.local_beacon import HOST, free_loopback_port, start_local_beacon

TICK = os.sysconf("SC_CLK_TCK")
LAUNCHER = ["-m", "mpcrec.cli.app", "launcher"]


def instance_names(count: int) -> list[str]:
    """The simulated instances' ids."""
    return [f"bench-{k:04d}" for k in range(count)]


def _issue(pki: Path, names: list[str]) -> None:
    for name in names:
        issue_certificate(pki / "ca", pki, instance_id=name, hosts=[HOST, "localhost"])


def certificates(pki: Path, names: list[str], *, processes: int = 2) -> float:
    """The CA and a certificate per name in ``pki`` (made only if missing); seconds taken."""
    started = time.monotonic()
    if not (pki / "ca" / "ca.pem").exists():
        create_ca(pki / "ca")
    missing = [n for n in names if not (pki / f"{n}.pem").exists()]
    if missing:
        with ProcessPoolExecutor(processes) as pool:
            parts = [missing[k::processes] for k in range(processes)]
            list(pool.map(_issue, [pki] * processes, parts))
    return time.monotonic() - started


def read_proc(pid: int) -> tuple[float, int, int]:
    """``(CPU seconds, resident bytes, peak resident bytes)`` of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    rss, peak = (1024 * int(status[key].split()[0]) for key in ("VmRSS", "VmHWM"))
    return cpu, rss, peak


@dataclass
class Sample:
    """The launcher's ``/proc`` at one moment."""

    time: float
    cpu_s: float
    rss: int
    peak_rss: int


@dataclass
class FederationRun:
    """The files and processes of one load run of ``instances`` simulated instances."""

    root: Path
    pki: Path
    instances: int
    rounds: int
    processes: int
    windows_s: float
    timeout_s: float
    one_log_call: bool = True  # each instance's log check: GetLogProofs, else 1 + n calls
    follow_models: bool = True  # fetch the newest model once announced, else at collecting
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    @property
    def events_path(self) -> Path:
        return self.root / "events.jsonl"

    def _spawn(self, name: str, args: list[str], stdout: Path | None = None) -> None:
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        err = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        out = open(stdout, "ab") if stdout else err  # noqa: SIM115
        self.procs[name] = subprocess.Popen(
            [sys.executable, *args],
            stdout=out,
            stderr=err,
            cwd=self.root,
            env={**os.environ, "OMP_NUM_THREADS": "1", "GRPC_VERBOSITY": "ERROR"},
            start_new_session=True,
        )

    def _beacon(self) -> dict[str, str]:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.procs["beacon"], beacon = start_local_beacon(
            self.root / "beacon", self.root / "logs" / "beacon.log"
        )
        return beacon

    def _federation(self, listen: str, beacon: dict[str, str]) -> dict[str, Any]:
        pki = self.pki
        tls = {"cert": pki / "launcher.pem", "key": pki / "launcher.key", "ca": pki / "ca/ca.pem"}
        return {
            "listen": listen,
            "state_dir": "launcher",
            "tls": {k: str(v) for k, v in tls.items()},
            "model": {"n_items": 50, "dim": 8, "aggregation": "plaintext", "clip_norm": 1.0},
            "rounds": {
                "committee_size": 3,
                "min_contributors": 3,
                "cooldown": 2,
                "commit_s": self.windows_s,
                "reveal_s": self.windows_s,
                "collect_s": 60,
                "compute_s": 60,
            },
            "schedule": {"rounds": self.rounds, "min_instances": self.instances},
            "beacon": beacon,
        }

    def start(self) -> None:
        """Beacon, launcher and load processes (certificates must exist)."""
        self.root.mkdir(parents=True, exist_ok=True)
        listen = f"{HOST}:{free_loopback_port()}"
        config = self._federation(listen, self._beacon())
        (self.root / "federation.yaml").write_text(yaml.safe_dump(config))
        self._spawn(
            "launcher",
            [*LAUNCHER, "--config", "federation.yaml", "--format", "json", "--exit-when-done"],
            stdout=self.events_path,
        )
        self._wait_listening(listen)
        names = instance_names(self.instances)
        plan = {
            "launcher": listen,
            "pki": str(self.pki),
            "rounds": self.rounds,
            "out_dir": str(self.root),
            "timeout_s": self.timeout_s,
            "one_log_call": self.one_log_call,
            "follow_models": self.follow_models,
            "groups": [names[k :: self.processes] for k in range(self.processes)],
        }
        (self.root / "plan.json").write_text(json.dumps(plan))
        for k in range(self.processes):
            self._spawn(f"load-{k}", ["-m", "mpcrec.bench.federation_load", "plan.json", str(k)])

    def _wait_listening(self, listen: str) -> None:
        host, port = listen.rsplit(":", 1)
        limit = time.monotonic() + 60
        while time.monotonic() < limit and self.procs["launcher"].poll() is None:
            with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 1):
                return
            time.sleep(0.1)
        raise UserError("the launcher did not start listening", hint=f"see {self.root}/logs")

    def follow(self) -> None:
        """Sample the launcher every 0.25 s until it and the load processes have exited."""
        launcher = self.procs["launcher"]
        deadline = time.monotonic() + self.timeout_s
        while launcher.poll() is None:
            if time.monotonic() > deadline:
                raise UserError(
                    f"the run did not finish in {self.timeout_s:.0f} s",
                    hint=f"see the logs in {self.root / 'logs'}",
                )
            with contextlib.suppress(OSError, IndexError, KeyError):  # it just exited
                self.samples.append(Sample(time.time(), *read_proc(launcher.pid)))
            loads = [p for n, p in self.procs.items() if n.startswith("load-")]
            if all(p.poll() is not None for p in loads):
                return  # the clients are done (or gave up): the launcher will not finish
            time.sleep(0.25)
        loads = [p for n, p in self.procs.items() if n.startswith("load-")]
        limit = time.monotonic() + 15  # for the last announcement to reach every instance
        while time.monotonic() < limit and any(p.poll() is None for p in loads):
            time.sleep(0.1)
        for proc in loads:  # those still watching missed the end: they report and exit
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in loads:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM what still runs, then SIGKILL."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def events(self) -> list[dict[str, Any]]:
        """The launcher's JSON events."""
        lines = self.events_path.read_text().splitlines() if self.events_path.exists() else []
        return [json.loads(line) for line in lines if line.startswith("{")]

    def load_reports(self) -> list[dict[str, Any]]:
        """What each load process wrote (a missing one is an error of the run)."""
        found = []
        for k in range(self.processes):
            path = self.root / f"load-{k}.json"
            if path.exists():
                found.append(json.loads(path.read_text()))
            else:
                found.append({"group": k, "errors": [f"load process {k} wrote no report"]})
        return found
