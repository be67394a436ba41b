"""A small real federation for the fault suite: a launcher, nodes in network namespaces.

Topology (as root, with ``ip``): a bridge in this namespace with the launcher's address, one
namespace per node joined to it by a veth pair, so a node can be cut off (its veth down) or
slowed (``tc netem`` on its side) alone. The launcher (and the local beacon, on loopback) run
here; its state directory is a small tmpfs so its disk can be filled. Processes are started
in their own sessions and killed by their process group id; nothing is killed by name.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
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
from mpcrec.errors import ConfigError
from mpcrec.loopback import free_loopback_port

Event = dict[str, Any]
TMPFS_MB = 48


def can_run() -> str:
    """Why this machine cannot host the fault federation (``""``: it can)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, tmpfs)"
    missing = [tool for tool in ("ip", "tc", "mount") if shutil.which(tool) is None]
    return f"needs {', '.join(missing)}" if missing else ""


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, timeout=20)


class Hosts:
    """A bridge holding the launcher's address and one namespace per node."""

    def __init__(self, names: list[str]) -> None:
        tag = secrets.token_hex(3)
        self.bridge = f"fb{tag}"
        subnet = f"10.{100 + int(tag[:2], 16) % 100}.{int(tag[2:4], 16)}"
        self.launcher = f"{subnet}.1"
        self.ns = {name: f"mpcfault-{tag}-{i}" for i, name in enumerate(names)}
        self.veth = {name: f"fv{tag}{i}" for i, name in enumerate(names)}
        self.addr = {name: f"{subnet}.{i + 10}" for i, name in enumerate(names)}
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.launcher}/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        for name in names:
            ns, outside = self.ns[name], self.veth[name]
            _run("ip", "netns", "add", ns)
            _run("ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _run("ip", "link", "set", outside, "master", self.bridge, "up")
            _run("ip", "-n", ns, "addr", "add", f"{self.addr[name]}/24", "dev", "eth0")
            _run("ip", "-n", ns, "link", "set", "eth0", "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")

    def prefix(self, name: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns[name]]

    def cut(self, name: str) -> None:
        """Take the node's link down: nothing in or out."""
        _run("ip", "link", "set", self.veth[name], "down")

    def slow(self, name: str, kbit: int) -> None:
        """Throttle what the node sends to ``kbit`` kbit/s, queueing up to 2 s (``tc tbf``:
        this kernel has no ``netem``, so a slow link rather than a fixed delay)."""
        _run("ip", "netns", "exec", self.ns[name], "tc", "qdisc", "replace", "dev", "eth0",
             "root", "tbf", "rate", f"{kbit}kbit", "burst", "4kb", "latency", "2s")  # fmt: skip

    def heal(self, name: str) -> None:
        """Link up again, no delay."""
        _run("ip", "link", "set", self.veth[name], "up")
        subprocess.run(
            [*self.prefix(name), "tc", "qdisc", "del", "dev", "eth0", "root"],
            capture_output=True,
            timeout=20,
        )

    def remove(self) -> None:
        for ns in self.ns.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, timeout=20)


class EventTail:
    """The launcher's JSON events, read as they are appended to its log (across restarts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[Event] = []
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[Event]:
        """Read what was appended since the last call; return the new events."""
        if not self.path.exists():
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        new = []
        for line in lines:
            if line.startswith(b'{"'):
                try:
                    new.append(json.loads(line))
                except ValueError:
                    continue
        self.events += new
        return new


@dataclass
class FaultFederation:
    """Files, namespaces and processes of one fault-suite federation under ``root``."""

    root: Path
    nodes: list[str]
    hosts: Hosts | None = None
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    events: EventTail | None = None
    #: how many of ``events`` :meth:`wait_event` has looked at
    seen: int = 0

    @property
    def state_dir(self) -> Path:
        return self.root / "launcher"

    def write(self, *, model: dict[str, Any], rounds: dict[str, Any], node_extra: Any) -> None:
        """Namespaces, tmpfs, CA, certificates, configs; start the local beacon."""
        reason = can_run()
        if reason:
            raise ConfigError(f"the fault federation {reason}")
        self.hosts = Hosts(self.nodes)
        self.state_dir.mkdir(parents=True)
        _run("mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "tmpfs", str(self.state_dir))
        pki, host = self.root / "pki", self.hosts.launcher
        create_ca(pki / "ca")
        issue_certificate(pki / "ca", pki, instance_id="launcher", hosts=[host, "localhost"])
        address = f"{host}:{free_loopback_port(host)}"
        beacon = self._start_beacon()
        tls = {"cert": "pki/launcher.pem", "key": "pki/launcher.key", "ca": "pki/ca/ca.pem"}
        _dump(
            self.root / "federation.yaml",
            {"listen": address, "state_dir": "launcher", "tls": tls, "model": model,
             "rounds": rounds, "schedule": {"rounds": 0, "min_instances": len(self.nodes)},
             "beacon": beacon},
        )  # fmt: skip
        for name in self.nodes:
            issue_certificate(pki / "ca", pki, instance_id=name, hosts=[self.hosts.addr[name]])
            config = {
                "instance_id": name,
                "launcher": address,
                "mpc_address": f"{self.hosts.addr[name]}:7600",
                "state_dir": f"nodes/{name}",
                "tls": {"cert": f"pki/{name}.pem", "key": f"pki/{name}.key", "ca": "pki/ca/ca.pem"},
                "beacon": {"chain_info": beacon["chain_info"]},
                **node_extra,
            }
            _dump(self.root / f"{name}.yaml", config)
        self.events = EventTail(self.root / "launcher.log")

    def _start_beacon(self) -> dict[str, str]:
        port = free_loopback_port("127.0.0.1")
        state = self.root / "beacon"
        command = ["beacon", "serve", "--state-dir", str(state), "--listen", f"127.0.0.1:{port}"]
        self._spawn("beacon", [sys.executable, "-m", "mpcrec.cli.app", *command, "--period", "1"])
        info = state / "chain-info.json"
        limit = time.monotonic() + 30
        while not info.exists() and time.monotonic() < limit:
            time.sleep(0.1)
        return {"url": f"http://127.0.0.1:{port}", "chain_info": str(info)}

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def start(self, name: str) -> None:
        """Start the launcher (``name="launcher"``) or a node (in its namespace)."""
        app = [sys.executable, "-m", "mpcrec.cli.app", "-v"]
        if name == "launcher":
            config = self.root / "federation.yaml"
            self._spawn(name, [*app, "launcher", "--config", str(config), "--format", "json"])
            return
        assert self.hosts is not None
        node = ["node", "--config", str(self.root / f"{name}.yaml")]
        self._spawn(name, [*self.hosts.prefix(name), *app, *node])

    def kill(self, name: str) -> None:
        """SIGKILL the process group this federation started as ``name``."""
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def close(self) -> None:
        """Kill everything started, unmount the tmpfs, remove the namespaces."""
        for name in list(self.procs):
            self.kill(name)
        if self.state_dir.is_mount():
            keep = self.root / "launcher-final"
            shutil.copytree(self.state_dir, keep, dirs_exist_ok=True)
            subprocess.run(
                ["umount", "--lazy", str(self.state_dir)], capture_output=True, timeout=20
            )
        if self.hosts is not None:
            self.hosts.remove()
            self.hosts = None

    def __enter__(self) -> FaultFederation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what the launcher holds --------------------------------------------------------

    def rounds(self) -> list[Round]:
        """Every round the launcher's store holds (``[]`` while it cannot be read)."""
        db = self.state_dir / "launcher.sqlite"
        if not db.exists():
            return []
        try:
            store = SQLiteStore(db)
        except Exception:  # a store being written or a full disk: read again later
            return []
        try:
            latest = store.latest_round()
            found = [store.get_round(i) for i in range(1, (latest.round_id if latest else 0) + 1)]
            return [r for r in found if r is not None]
        except Exception:
            return []
        finally:
            store.close()

    def wait_event(self, what: Callable[[Event], bool], timeout: float) -> Event | None:
        """The first event not looked at yet that ``what`` accepts, or ``None`` after
        ``timeout`` seconds."""
        assert self.events is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.events.poll()
            if "launcher" in self.procs and not self.alive("launcher"):
                return None  # a launcher that exited sends nothing more
            while self.seen < len(self.events.events):
                event = self.events.events[self.seen]
                self.seen += 1
                if what(event):
                    return event
            time.sleep(0.02)
        return None

    def wait_rounds(self, what: Callable[[list[Round]], bool], timeout: float) -> bool:
        """Poll the store until ``what`` holds (``False`` after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what(self.rounds()):
                return True
            time.sleep(0.2)
        return False

    def log(self, name: str, tail: int = 3000) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data))
