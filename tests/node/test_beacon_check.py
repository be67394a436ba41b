"""A node commits and reveals only while the round's beacon round is still ahead."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpcrec.crypto.beacon import LocalSigner
from mpcrec.node.beacon_check import NodeBeacon
from mpcrec.node.daemon import Node
from mpcrec.node.trainer import DriftTrainer

from .world import RATE, World, make_launcher, node_config

NAMES = ("a", "b", "c")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    chain = LocalSigner(bytes(range(32))).chain(genesis_time=0, period=3)
    info = tmp_path / "chain.json"
    info.write_text(json.dumps(chain.to_json()))
    made = World(make_launcher(), {})
    for name in NAMES:
        config = dataclasses.replace(
            node_config(tmp_path, name), beacon=NodeBeacon(chain_info=info)
        )
        made.add(Node(config, DriftTrainer(name, rate=RATE)))
    made.register_all()
    made.launcher.advance()
    yield made
    made.close()


def _refusals(world: World) -> list[tuple[int, str]]:
    return [(e["round"], e["rule"]) for n in world.nodes.values() for e in n.refusals.entries()]


def test_a_round_bound_to_a_beacon_round_already_out_gets_no_commitment(world: World) -> None:
    opened = world.current()
    past = dataclasses.replace(opened, beacon_round=3, beacon_at=time.time() + 600)  # a lie
    world.hand_out(past)
    assert world.launcher.store.commits(opened.round_id) == {}
    assert _refusals(world) == [(opened.round_id, "beacon")] * 3


def test_a_round_bound_to_no_beacon_is_refused_by_a_node_that_pins_one(world: World) -> None:
    opened = world.current()
    world.hand_out(dataclasses.replace(opened, beacon_round=0))
    assert world.launcher.store.commits(opened.round_id) == {}
    assert {rule for _, rule in _refusals(world)} == {"beacon"}


def test_a_round_bound_to_a_future_beacon_round_is_joined(world: World) -> None:
    opened = world.current()
    ahead = 1 + int(time.time() // 3) + 100  # due about five minutes from now
    world.hand_out(dataclasses.replace(opened, beacon_round=ahead))
    assert sorted(world.launcher.store.commits(opened.round_id)) == list(NAMES)
    assert _refusals(world) == []
