"""Run in a fresh interpreter by tests/node/test_light_node.py: one secure round through the
in-process launcher (four node daemons in this process, their CrypTen parties as child
processes), then print what this process imported and whether any party is left running.

``python -m tests.node.light_round ROOT`` prints one JSON object.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

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
HEAVY = ("torch", "crypten")


def main(root: Path) -> dict[str, object]:
    """One secure round under ``root``; what the daemons' process holds afterwards."""
    create_ca(root / "ca")
    launcher = make_launcher(spec=SPEC, rounds=1, min_instances=len(NAMES))
    nodes = [
        Node(
            node_config(
                root,
                name,
                tls=issue_certificate(root / "ca", root, instance_id=name, hosts=["127.0.0.1"]),
                mpc_port=free_port(),
            ),
            DriftTrainer(name, rate=RATE),
            connect=lambda name=name: InProcessLauncherClient(launcher, name),
        )
        for name in NAMES
    ]
    base = launcher.model(0).array()
    try:
        run_nodes(launcher, nodes, lambda: launcher.model(-1).version >= 1, timeout_s=150)
        rnd = launcher.current()
        assert rnd is not None
        twin = plaintext_twin(base, rnd.contributors)
        parties = [
            node.aggregation._party.running
            for node in nodes
            if isinstance(node.aggregation, SecureAggregation)
        ]
        return {
            "published": rnd.published_version,
            "secure_nodes": len(parties),
            "parties_running": sum(parties),
            "error_vs_twin": float(np.max(np.abs(launcher.model(1).array() - twin))),
            "imported": [name for name in HEAVY if name in sys.modules],
        }
    finally:
        for node in nodes:
            node.close()


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
