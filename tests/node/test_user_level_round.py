"""A user-level secure round through the in-process launcher: real CrypTen party processes
over mutual TLS; each node samples and clips its (one) user at home and uploads the sum with
weight 1, and the committee adds the noise at user-level sensitivity inside MPC.

The plaintext twin is ``base + mean_i clip(update_i, C_u)``; the published model differs
from it by the committee's noise only: k members each add std ``z * C_u * max w``
(:mod:`mpcrec.secure.noise`), so the residual has std ``sqrt(k) * z * C_u / n``. Without
noise it equals the twin within the codec's fixed-point error (16 fractional bits on the
updates: 1e-3 is generous)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from launch.in_process import InProcessLauncherClient
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.federation.spec import FederationSpec
from mpcrec.node.config import PrivacyFloor
from mpcrec.node.daemon import Node
from mpcrec.node.trainer import DriftTrainer, drift_target
from tests.net import free_port
from tests.node.world import RATE, make_launcher, node_config, run_nodes

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]
C_U, Z = 0.5, 2.0
SPEC = FederationSpec(
    n_items=300,
    dim=3,
    aggregation="secure",
    clip_norm=10.0,
    range_bound=160.0,
    noise_multiplier=Z,
    sensitivity="user",
    user_clip_norm=C_U,
    user_rate=1.0,  # every user drawn: the twin is known exactly
)


def _clipped_twin(base: np.ndarray, contributors: list[str]) -> np.ndarray:
    deltas = []
    for name in contributors:
        delta = RATE * (drift_target(name, base.shape) - base)
        deltas.append(delta * min(1.0, C_U / float(np.linalg.norm(delta))))
    return base + np.mean(deltas, axis=0)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_user_level_secure_round_is_its_clipped_twin_plus_user_level_noise(
    tmp_path: Path,
) -> None:
    # Prepare
    create_ca(tmp_path / "ca")
    launcher = make_launcher(spec=SPEC, rounds=1, min_instances=len(NAMES))
    floor = PrivacyFloor(require_user_level=True, min_user_noise_multiplier=Z)
    nodes = [
        Node(
            node_config(
                tmp_path,
                name,
                tls=issue_certificate(
                    tmp_path / "ca", tmp_path, instance_id=name, hosts=["127.0.0.1"]
                ),
                mpc_port=free_port(),
                privacy_floor=floor,
            ),
            DriftTrainer(name, rate=RATE),
            connect=lambda name=name: InProcessLauncherClient(launcher, name),
        )
        for name in NAMES
    ]
    base = launcher.model(0).array()

    # Execute
    try:
        run_nodes(launcher, nodes, lambda: launcher.model(-1).version >= 1, timeout_s=120)
    finally:
        for node in nodes:
            node.close()

    # Assert
    rnd = launcher.current()
    assert rnd is not None and rnd.published_version == 1
    contributors = list(rnd.contributors)
    assert list(rnd.weights) == [1.0] * len(contributors)  # the public user-level weight
    residual = (launcher.model(1).array() - _clipped_twin(base, contributors)).ravel()
    expected = math.sqrt(3) * Z * C_U / len(contributors)  # k = 3 members' noise
    # 900 coordinates: the sample std is within about 2.4 % of the true one (1 se)
    assert abs(residual.std() / expected - 1) < 0.15
    assert abs(residual.mean()) < 5 * expected / math.sqrt(residual.size)
    # instance-level sensitivity (2 C max w) would be 40 times as much noise
    assert residual.std() < 0.1 * math.sqrt(3) * Z * 2 * 10.0 / len(contributors)
