"""A launcher and a few nodes in one process, for the node's round handling.

The launcher keeps its state in memory (:class:`launch.memory_store.InMemoryStore`) with a
real signed audit log; each node is a real :class:`mpcrec.node.daemon.Node` with a
:class:`mpcrec.node.trainer.DriftTrainer`, talking to the launcher through the in-process
client (:class:`launch.in_process.InProcessLauncherClient`) or, for the contract test, over
gRPC. :func:`drive` steps the launcher and hands every node each announcement, in one thread;
:meth:`World.run_nodes` runs them as the daemon does (threads following ``watch_rounds``).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.in_process import InProcessLauncherClient
from launch.launcher import Launcher, Schedule
from launch.memory_store import InMemoryStore
from launch.round import Round, RoundPolicy
from mpcrec.audit.log import AuditLog
from mpcrec.crypto.pki import CertPaths, create_ca, issue_certificate
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.launcher_client import LauncherClient
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.server import ServerSGD
from mpcrec.node.config import NodeConfig, PrivacyFloor
from mpcrec.node.daemon import Node
from mpcrec.node.trainer import DriftTrainer, drift_target

SPEC = FederationSpec(n_items=6, dim=3, clip_norm=100.0, aggregation="plaintext")
#: The in-process nodes compute plaintext rounds (no CrypTen): the named opt-out of the floor.
PLAINTEXT_FLOOR = PrivacyFloor(allow_plaintext=True)
POLICY = RoundPolicy(
    committee_size=3, min_contributors=3, commit_s=60, reveal_s=60, collect_s=60, compute_s=60
)
RATE = 0.5


class Clock:
    """Unix time that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_launcher(
    *,
    spec: FederationSpec = SPEC,
    policy: RoundPolicy = POLICY,
    rounds: int = 0,
    min_instances: int = 3,
    clock: Callable[[], float] = time.time,
    key: Ed25519PrivateKey | None = None,
) -> Launcher:
    """A launcher over an in-memory store with a signed audit log (signed by ``key``)."""
    key = key or Ed25519PrivateKey.generate()
    audit = AuditLog(sqlite3.connect(":memory:", check_same_thread=False), launcher_key=key)
    return Launcher(
        InMemoryStore(),
        policy=policy,
        spec=spec,
        schedule=Schedule(rounds=rounds, min_instances=min_instances, retry_s=0.0),
        clock=clock,
        audit=audit,
        launcher_key=key.public_key().public_bytes_raw(),
    )


def node_config(
    root: Path,
    name: str,
    *,
    tls: CertPaths | None = None,
    mpc_port: int = 1,
    launcher: str = "",
    privacy_floor: PrivacyFloor = PLAINTEXT_FLOOR,
) -> NodeConfig:
    """A node's config under ``root/name``; without ``tls``, a certificate from the world's CA
    (``root/ca``, made on first use): the node binds its keys with it, and checks others'."""
    return NodeConfig(
        instance_id=name,
        launcher=launcher or "in-process",
        mpc_address=f"127.0.0.1:{mpc_port}",
        state_dir=root / name,
        tls=tls or world_certificate(root, name),
        mpc_timeout_s=30.0,
        privacy_floor=privacy_floor,
    )


def world_certificate(root: Path, name: str) -> CertPaths:
    """``name``'s certificate from the CA in ``root/ca`` (both made on first use)."""
    if not (root / "ca" / "ca.pem").exists():
        create_ca(root / "ca")
    if not (root / "pki" / f"{name}.pem").exists():
        return issue_certificate(root / "ca", root / "pki", instance_id=name, hosts=["127.0.0.1"])
    return CertPaths(
        root / "pki" / f"{name}.pem", root / "pki" / f"{name}.key", root / "ca" / "ca.pem"
    )


@dataclass
class World:
    """A launcher and its nodes, each with the client it talks through."""

    launcher: Launcher
    nodes: dict[str, Node]
    clients: dict[str, LauncherClient] = field(default_factory=dict)

    @classmethod
    def in_process(
        cls,
        launcher: Launcher,
        root: Path,
        names: Sequence[str],
        *,
        privacy_floor: PrivacyFloor = PLAINTEXT_FLOOR,
    ) -> World:
        """Nodes ``names`` over in-process clients (not yet registered)."""
        world = cls(launcher, {})
        for name in names:
            config = node_config(root, name, privacy_floor=privacy_floor)
            world.add(Node(config, DriftTrainer(name, rate=RATE)))
        return world

    def add(self, node: Node) -> Node:
        """Put ``node`` in (replacing one of the same name: a restart) with a new client."""
        self.nodes[node.me] = node
        self.clients[node.me] = InProcessLauncherClient(self.launcher, node.me)
        return node

    def register_all(self) -> None:
        for name, node in self.nodes.items():
            node.register(self.clients[name])

    def current(self) -> RoundAnnouncement:
        found = next(iter(self.clients.values())).current_round()
        assert found is not None, "no round has opened"
        return found

    def hand_out(self, ann: RoundAnnouncement, *, skip: Sequence[str] = ()) -> None:
        """Give ``ann`` to every node (but those in ``skip``), as its watch would."""
        for name, node in self.nodes.items():
            if name not in skip:
                node.handle(self.clients[name], ann)

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()


def drive(
    world: World,
    until: Callable[[RoundAnnouncement], bool],
    *,
    skip: Sequence[str] = (),
    steps: int = 50,
) -> RoundAnnouncement:
    """Advance the launcher and hand each announcement out until ``until`` holds."""
    for _ in range(steps):
        world.launcher.advance()
        ann = world.current()
        world.hand_out(ann, skip=skip)
        if until(ann):
            return ann
    raise AssertionError(f"gave up in round {ann.round_id}, {ann.phase} {ann.reason}")


def published(world: World, version: int) -> Callable[[RoundAnnouncement], bool]:
    """``until`` for :func:`drive`: model ``version`` is published (the launcher may have
    opened the next round in the same step)."""
    return lambda ann: world.launcher.model(-1).version >= version


def publishing_round(world: World, version: int) -> Round:
    """The round that published model ``version``."""
    latest = world.launcher.current()
    assert latest is not None
    rounds = [world.launcher.store.get_round(i) for i in range(1, latest.round_id + 1)]
    return next(r for r in rounds if r is not None and r.published_version == version)


def plaintext_twin(model: np.ndarray, contributors: Sequence[str]) -> np.ndarray:
    """The next model from ``model`` (lr 1, no momentum, no clipping at these norms)."""
    deltas = [RATE * (drift_target(c, model.shape) - model) for c in contributors]
    sgd = ServerSGD(lr=SPEC.server_lr, momentum=SPEC.server_momentum)
    step = sgd.public_offset(model.ravel()) + np.mean(deltas, axis=0).ravel()
    return step.reshape(model.shape)


def run_nodes(
    launcher: Launcher, nodes: Sequence[Node], until: Callable[[], bool], timeout_s: float
) -> None:
    """Run the launcher's scheduler and every node's daemon loop in threads until ``until()``."""
    stop = threading.Event()
    threads = [threading.Thread(target=launcher.run, args=(stop,), daemon=True)]
    threads += [threading.Thread(target=n.run, args=(stop,), daemon=True) for n in nodes]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not until():
            if time.monotonic() > deadline:
                raise AssertionError(f"not done within {timeout_s}s: {launcher.current()}")
            time.sleep(0.05)
    finally:
        stop.set()
        launcher.stopping.set()
        for thread in threads:
            thread.join(timeout=10)
