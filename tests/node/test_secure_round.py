"""A secure round through the in-process launcher: real CrypTen party processes (the nodes'
warm seats) over mutual TLS, the launcher and the nodes' daemons in this process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from launch.in_process import InProcessLauncherClient
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.federation.spec import FederationSpec
from mpcrec.node.aggregation.secure import SecureAggregation
from mpcrec.node.daemon import Node
from mpcrec.node.trainer import DriftTrainer
from tests.net import free_port
from tests.node.world import RATE, make_launcher, node_config, plaintext_twin, run_nodes

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]
SPEC = FederationSpec(n_items=6, dim=3, aggregation="secure", clip_norm=10.0, range_bound=160.0)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_secure_round_through_the_in_process_launcher_equals_the_twin(tmp_path: Path) -> None:
    # Prepare
    create_ca(tmp_path / "ca")
    launcher = make_launcher(spec=SPEC, rounds=1, min_instances=len(NAMES))
    nodes = [
        Node(
            node_config(
                tmp_path,
                name,
                tls=issue_certificate(
                    tmp_path / "ca", tmp_path, instance_id=name, hosts=["127.0.0.1"]
                ),
                mpc_port=free_port(),
            ),
            DriftTrainer(name, rate=RATE),
            connect=lambda name=name: InProcessLauncherClient(launcher, name),
        )
        for name in NAMES
    ]
    base = launcher.model(0).array()

    # Execute
    try:
        run_nodes(launcher, nodes, lambda: launcher.model(-1).version >= 1, timeout_s=100)
    finally:
        for node in nodes:
            node.close()

    # Assert
    rnd = launcher.current()
    assert rnd is not None and rnd.published_version == 1
    assert all(isinstance(node.aggregation, SecureAggregation) for node in nodes)
    twin = plaintext_twin(base, rnd.contributors)
    np.testing.assert_allclose(launcher.model(1).array(), twin, rtol=0, atol=1e-3)
