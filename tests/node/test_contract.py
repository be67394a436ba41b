"""One scenario through both launcher clients: over gRPC (a real server, mutual TLS) and in
process. The node cannot tell them apart: the same rounds publish the same model."""

from __future__ import annotations

from pathlib import Path

import pytest

from launch.in_process import InProcessLauncherClient
from launch.launcher import Launcher
from launch.service import serve
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.federation.spec import FederationSpec
from mpcrec.node.daemon import Node
from mpcrec.node.trainer import DriftTrainer
from tests.node.world import RATE, make_launcher, node_config, run_nodes

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]
ROUNDS = 2
SPEC = FederationSpec(n_items=6, dim=3, clip_norm=100.0, server_momentum=0.5)


def _done(launcher: Launcher) -> bool:
    return launcher.model(-1).version >= ROUNDS


def _over_grpc(root: Path, port: int) -> bytes:
    create_ca(root / "ca")
    server_tls = issue_certificate(root / "ca", root, instance_id="launcher", hosts=["127.0.0.1"])
    launcher = make_launcher(spec=SPEC, rounds=ROUNDS, min_instances=len(NAMES))
    address = f"127.0.0.1:{port}"
    nodes = [
        Node(
            node_config(
                root,
                name,
                tls=issue_certificate(root / "ca", root, instance_id=name, hosts=[]),
                launcher=address,
            ),
            DriftTrainer(name, rate=RATE),
        )
        for name in NAMES
    ]
    server = serve(launcher, address, server_tls)
    try:
        run_nodes(launcher, nodes, lambda: _done(launcher), timeout_s=60)
    finally:
        server.stop(grace=None)
    return launcher.model(ROUNDS).model_hash


def _in_process(root: Path) -> bytes:
    launcher = make_launcher(spec=SPEC, rounds=ROUNDS, min_instances=len(NAMES))
    nodes = [
        Node(
            node_config(root, name),
            DriftTrainer(name, rate=RATE),
            connect=lambda name=name: InProcessLauncherClient(launcher, name),  # type: ignore[misc]
        )
        for name in NAMES
    ]
    run_nodes(launcher, nodes, lambda: _done(launcher), timeout_s=60)
    return launcher.model(ROUNDS).model_hash


@pytest.mark.timeout(120)
def test_grpc_and_in_process_clients_publish_the_same_model(tmp_path: Path, port: int) -> None:
    # Execute
    wire = _over_grpc(tmp_path / "grpc", port)
    local = _in_process(tmp_path / "local")

    # Assert
    assert wire == local
