"""The light node: the daemon's process never imports torch or CrypTen (only its committee
party process does), the party runs only while the node serves unless ``warm_seat``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from mpcrec.crypto.keys import NodeKeys
from mpcrec.federation.spec import FederationSpec
from mpcrec.node.aggregation import Seat
from mpcrec.node.aggregation.secure import SecureAggregation
from mpcrec.node.config import CommitteeConfig, NodeConfig
from mpcrec.node.round_memory import REMEMBERED_ROUNDS
from tests.node.world import World, drive, make_launcher, published, world_certificate

ROOT = Path(__file__).parents[2]
SPEC = FederationSpec(n_items=6, dim=3, aggregation="secure", clip_norm=10.0, range_bound=160.0)

# What `mpcrec node --config F` imports before and while it follows the launcher (its
# run() imports the config and the daemon; the daemon imports its aggregation and trainer
# modules when it registers).
NODE_ENTRY = textwrap.dedent(
    """
    import json, sys
    from mpcrec.cli.app import build_parser, named_command
    argv = ["-v", "node", "--config", "node.yaml"]
    args = build_parser(named_command(argv)).parse_args(argv)
    assert args.func.__module__ == "mpcrec.cli.node", args.func.__module__
    import mpcrec.node.config, mpcrec.node.daemon, mpcrec.node.grpc_client
    import mpcrec.node.aggregation.plaintext, mpcrec.node.aggregation.secure
    import mpcrec.node.movielens_trainer, mpcrec.node.peertube_trainer
    import mpcrec.node.dpals_trainer, mpcrec.node.seqrec_trainer, mpcrec.node.peertube_seqrec
    import mpcrec.node.http_api, mpcrec.node.recommender
    print(json.dumps([m for m in ("torch", "crypten") if m in sys.modules]))
    """
)


def _python(code_or_module: list[str], timeout: float) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, *code_or_module],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_node_command_imports_neither_torch_nor_crypten() -> None:
    # Execute
    imported = json.loads(_python(["-c", NODE_ENTRY], timeout=60))

    # Assert
    assert imported == []


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.xdist_group("crypten")
def test_a_secure_round_leaves_the_daemons_without_torch_and_their_parties_stopped(
    tmp_path: Path,
) -> None:
    # Execute: four daemons and the launcher in a fresh interpreter, parties as children
    found = json.loads(_python(["-m", "tests.node.light_round", str(tmp_path)], timeout=220))

    # Assert
    assert found["published"] == 1 and found["secure_nodes"] == 4
    assert found["error_vs_twin"] < 1e-3  # the committee really computed the round
    assert found["imported"] == []
    assert found["parties_running"] == 0  # cold seats: stopped once the round was done


def _aggregation(tmp_path: Path, *, warm: bool) -> SecureAggregation:
    keys = NodeKeys.load_or_create(tmp_path / "keys")
    seat = Seat("tube-a", keys, world_certificate(tmp_path, "tube-a"), 30.0, warm_seat=warm)
    return SecureAggregation(SPEC, seat)


@pytest.mark.timeout(60)
def test_a_cold_seat_starts_its_party_when_drawn_and_stops_it_after(tmp_path: Path) -> None:
    # Prepare
    aggregation = _aggregation(tmp_path, warm=False)
    try:
        assert not aggregation._party.running  # nothing before the node is drawn

        # Execute
        aggregation.prepare(None)  # type: ignore[arg-type]  # the announcement is not read
        started = aggregation._party.running
        aggregation.release()

        # Assert
        assert started
        assert not aggregation._party.running
    finally:
        aggregation.close()


@pytest.mark.timeout(60)
def test_a_warm_seat_starts_at_once_and_outlives_its_rounds(tmp_path: Path) -> None:
    # Prepare / Execute
    aggregation = _aggregation(tmp_path, warm=True)
    try:
        started = aggregation._party.running
        aggregation.release()

        # Assert
        assert started
        assert aggregation._party.running
    finally:
        aggregation.close()
    assert not aggregation._party.running


def test_node_yaml_committee_warm_seat_defaults_to_false(tmp_path: Path) -> None:
    # Prepare
    base = {
        "instance_id": "tube-a",
        "launcher": "127.0.0.1:7443",
        "mpc_address": "127.0.0.1:7600",
        "tls": {"cert": "a.pem", "key": "a.key", "ca": "ca.pem"},
    }
    (tmp_path / "cold.yaml").write_text(yaml.safe_dump(base))
    (tmp_path / "warm.yaml").write_text(yaml.safe_dump({**base, "committee": {"warm_seat": True}}))

    # Execute
    cold = NodeConfig.load(tmp_path / "cold.yaml")
    warm = NodeConfig.load(tmp_path / "warm.yaml")

    # Assert
    assert cold.committee == CommitteeConfig(warm_seat=False)
    assert warm.committee.warm_seat is True


@pytest.mark.timeout(120)
def test_a_long_lived_node_forgets_the_steps_of_old_rounds(tmp_path: Path) -> None:
    # Prepare
    world = World.in_process(make_launcher(), tmp_path, ["tube-a", "tube-b", "tube-c"])
    try:
        world.register_all()

        # Execute
        last = drive(world, published(world, REMEMBERED_ROUNDS + 4), steps=400)

        # Assert: a few steps per round, of the last REMEMBERED_ROUNDS rounds only
        for node in world.nodes.values():
            rounds = {round_id for round_id, _ in node.memory.done}
            assert min(rounds) >= last.round_id - REMEMBERED_ROUNDS
            assert set(node.memory.secrets) <= set(range(last.round_id - REMEMBERED_ROUNDS, 10**6))
    finally:
        world.close()
