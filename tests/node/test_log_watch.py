"""The node's end-of-round log checks: its own entries proven, one history, peers' heads.

A hostile launcher here is the real :class:`~launch.launcher.Launcher` that answers one
node's tree-head and inclusion calls from a second log: the real one without some entries,
with heads it signs itself (the history it shows that node).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.in_process import InProcessLauncherClient
from launch.launcher import Launcher
from mpcrec.audit import merkle
from mpcrec.audit.entries import Kind, LogEntry, TreeHead
from mpcrec.audit.log import AuditLog
from mpcrec.audit.verify import verify_file
from mpcrec.audit.witness import WITNESS_FILE, read_witness
from mpcrec.node.config import WitnessConfig
from mpcrec.node.daemon import Node
from mpcrec.node.launcher_trust import EVIDENCE_FILE
from mpcrec.node.log_watch import WitnessServer, fetch_witness
from mpcrec.node.trainer import DriftTrainer
from tests.net import free_port
from tests.node.world import RATE, World, drive, make_launcher, node_config, published

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]


class ShownHistory(InProcessLauncherClient):
    """The launcher as one node sees it: its log without the entries ``drop`` names."""

    def __init__(
        self, launcher: Launcher, me: str, key: Ed25519PrivateKey, drop: Callable[[LogEntry], bool]
    ) -> None:
        super().__init__(launcher, me)
        self.key, self.drop = key, drop

    def _shown(self) -> AuditLog:
        real = self.launcher.trail.log
        assert real is not None
        shown = AuditLog(sqlite3.connect(":memory:"), launcher_key=self.key)
        for entry in real.entries():
            if not self.drop(entry):
                shown.append(dataclasses.replace(entry, index=-1))
        shown.sign_head()
        return shown

    def tree_head(self, known_size: int) -> tuple[TreeHead, list[bytes]]:
        shown = self._shown()
        head = shown.heads()[-1]
        if 0 < known_size < head.size:
            return head, shown.consistency_proof(known_size, head.size)
        if head.size < known_size <= shown.size:
            return head, shown.consistency_proof(head.size, known_size)
        return head, []

    def inclusion_proof(self, entry_signature: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        shown = self._shown()
        index = shown.index_of(entry_signature)
        if index is None or index >= tree_size:
            from mpcrec.federation.refusals import InvalidMessage

            raise InvalidMessage("no such entry")
        return index, shown.inclusion_proof(index, tree_size)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _world(tmp_path: Path, key: Ed25519PrivateKey, peers: dict[str, list[str]]) -> World:
    world = World(make_launcher(key=key), {})
    for name in NAMES:
        config = node_config(tmp_path, name)
        witness = WitnessConfig(
            peers=tuple(str(tmp_path / p / WITNESS_FILE) for p in peers.get(name, []))
        )
        world.add(Node(dataclasses.replace(config, witness=witness), DriftTrainer(name, rate=RATE)))
    return world


@pytest.fixture
def honest(tmp_path: Path, key: Ed25519PrivateKey) -> Iterator[World]:
    w = _world(tmp_path, key, {n: [p for p in NAMES if p != n] for n in NAMES})
    try:
        yield w
    finally:
        w.close()


def test_an_honest_log_proves_every_entry_a_node_signed(
    honest: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare
    proven: dict[str, list[str]] = {n: [] for n in NAMES}
    for name, node in honest.nodes.items():
        keep = node.own.proven
        monkeypatch.setattr(
            node.own, "proven", lambda e, keep=keep, n=name: (proven[n].append(e.kind), keep(e))
        )
    honest.register_all()

    # Execute
    drive(honest, published(honest, 2))
    drive(honest, lambda ann: ann.round_id >= 4)  # round 3 ended, seen as round 4 opens

    # Assert
    members = {
        e.author for e in honest.launcher.trail.log.entries() if e.kind == Kind.RESULT_SIGNATURE
    }
    latest = honest.launcher.trail.log.heads()[-1]
    for name, node in honest.nodes.items():
        assert node.refusals.entries() == [] and not node.forked
        assert {Kind.REGISTER, Kind.SEED_COMMIT, Kind.CONTRIBUTION} <= set(proven[name])
        assert (Kind.RESULT_SIGNATURE in proven[name]) == (name in members)
        assert node.own.to_prove(3) == []
        witnessed = read_witness(node.config.state_dir / WITNESS_FILE)
        assert witnessed.witness == name and witnessed.verify(node.keys.signing_public)
        assert witnessed.head.timestamp is not None
        assert (witnessed.head.size, witnessed.head.root) == (latest.size, latest.root)
    assert members


def test_a_node_refuses_a_log_without_its_contribution(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    # Prepare: the launcher shows tube-a a history without tube-a's contributions
    world = _world(tmp_path, key, {})
    victim = "tube-a"
    world.clients[victim] = ShownHistory(
        world.launcher,
        victim,
        key,
        lambda e: e.kind == Kind.CONTRIBUTION and e.author == victim,
    )
    try:
        world.register_all()

        # Execute
        drive(world, published(world, 1))
        drive(world, lambda ann: ann.round_id >= 2)  # round 1 ended, seen as round 2 opens

        # Assert
        refusals = world.nodes[victim].refusals.entries()
        assert [r["rule"] for r in refusals] == ["inclusion"]
        assert "contribution entry of round 1" in refusals[0]["detail"]
        assert world.nodes[victim].forked
        assert all(world.nodes[n].refusals.entries() == [] for n in NAMES if n != victim)
    finally:
        world.close()


def test_nodes_shown_two_histories_find_the_fork_and_the_auditor_too(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    # Prepare: tube-b is shown a history without tube-c's contributions (its own entries are
    # all there); tube-a and tube-b read each other's witnessed heads
    world = _world(tmp_path, key, {"tube-a": ["tube-b"], "tube-b": ["tube-a"]})
    world.clients["tube-b"] = ShownHistory(
        world.launcher,
        "tube-b",
        key,
        lambda e: e.kind == Kind.CONTRIBUTION and e.author == "tube-c",
    )
    try:
        world.register_all()

        # Execute: the fork shows at round 1's end (seen as round 2 opens)
        drive(world, published(world, 1))
        drive(world, lambda ann: ann.round_id >= 2)
        out = tmp_path / "audit.jsonl"
        log = world.launcher.trail.log
        assert log is not None
        log.sign_head()  # the export mid-round: a head over every entry, as at a round's end
        log.export_jsonl(out)
        both = verify_file(
            out, heads_paths=[tmp_path / "tube-a", tmp_path / "tube-b"], require_heads=2, workers=1
        )
        honest_only = verify_file(
            out, heads_paths=[tmp_path / "tube-a"], require_heads=1, workers=1
        )
        too_few = verify_file(out, heads_paths=[tmp_path / "tube-a"], require_heads=2, workers=1)
    finally:
        world.close()

    # Assert: the nodes
    rules = {n: [r["rule"] for r in world.nodes[n].refusals.entries()] for n in NAMES}
    assert "fork" in rules["tube-a"] + rules["tube-b"]
    assert rules["tube-c"] == rules["tube-d"] == []
    refused = "tube-a" if "fork" in rules["tube-a"] else "tube-b"
    evidence = [
        json.loads(line) for line in (tmp_path / refused / EVIDENCE_FILE).read_text().splitlines()
    ]
    ours, theirs = (TreeHead.from_json(evidence[0][k]) for k in ("ours", "theirs"))
    assert ours.verify(key.public_key()) and theirs.verify(key.public_key())
    assert ours.root != theirs.root
    # Assert: the auditor
    assert {f.rule for f in both.findings} == {"fork", "heads"}, [f.message for f in both.findings]
    assert honest_only.ok, [f.message for f in honest_only.findings]
    assert [f.rule for f in too_few.findings] == ["heads"]


def test_the_witness_server_serves_the_cosigned_head(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    # Prepare
    from mpcrec.audit.witness import WitnessedHead
    from mpcrec.crypto.keys import NodeKeys

    keys = NodeKeys.load_or_create(tmp_path / "keys")
    head = TreeHead(1, merkle.leaf_hash(b"x"), timestamp=5).sign(key)
    path = tmp_path / WITNESS_FILE
    path.write_bytes(WitnessedHead("tube-a", head).sign(keys.signing).to_bytes())
    server = WitnessServer(path, f"127.0.0.1:{free_port()}")
    server.start()
    try:
        # Execute
        fetched = fetch_witness(f"http://{server.address}")
        missing = fetch_witness(f"http://{server.address}/nothing")
    finally:
        server.stop()

    # Assert
    assert fetched is not None and fetched.head == head
    assert fetched.verify(keys.signing_public)
    assert missing is None
