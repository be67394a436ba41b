"""The launcher's scheduling without the wire: a clock we move, real keys, real stores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from committees.seed import commitment
from committees.sortition import draw_committee
from launch.launcher import Launcher, Schedule
from launch.memory_store import InMemoryStore
from launch.round import Phase, RoundPolicy
from launch.sqlite_store import SQLiteStore
from launch.store import LauncherStore
from mpcrec.audit import entries
from mpcrec.crypto.keys import NodeKeys
from mpcrec.errors import ProtocolError
from mpcrec.federation.spec import FederationSpec
from tests.launch.instances import register_instances

POLICY = RoundPolicy(committee_size=2, min_contributors=2, commit_s=5, reveal_s=5)
SPEC = FederationSpec(n_items=2, dim=2)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _launcher(store: LauncherStore, clock: Clock, tmp_path: Path) -> Launcher:
    launcher = Launcher(store, policy=POLICY, spec=SPEC, schedule=Schedule(retry_s=3), clock=clock)
    register_instances(launcher, tmp_path)
    return launcher


def _commit(launcher: Launcher, tmp_path: Path, name: str, secret: bytes) -> None:
    keys = NodeKeys.load_or_create(tmp_path / name)
    value = commitment(1, name, secret)
    entry = entries.seed_commit(instance_id=name, round_id=1, commitment=value)
    launcher.commit(name, 1, value, entry.sign(keys.signing).signature)


def test_abort_pauses_then_retries_with_a_new_round(tmp_path: Path) -> None:
    clock = Clock()
    launcher = _launcher(InMemoryStore(), clock, tmp_path)
    launcher.advance()
    first = launcher.current()
    assert first is not None and first.phase is Phase.OPEN

    clock.now += 6  # nobody committed
    launcher.advance()
    aborted = launcher.current()
    clock.now += 1
    launcher.advance()
    still = launcher.current()
    clock.now += 3
    launcher.advance()
    retry = launcher.current()

    assert aborted is not None and aborted.phase is Phase.ABORTED and aborted.round_id == 1
    assert still == aborted
    assert retry is not None and retry.round_id == 2 and retry.phase is Phase.OPEN
    assert retry.model_version == 0


def test_registration_and_commitment_need_the_instance_signature(tmp_path: Path) -> None:
    clock = Clock()
    launcher = _launcher(InMemoryStore(), clock, tmp_path)
    launcher.advance()
    keys = NodeKeys.load_or_create(tmp_path / "a")
    forged = NodeKeys.load_or_create(tmp_path / "b").signing

    with pytest.raises(ProtocolError, match="bad signature"):
        launcher.register("a", keys.signing_public, keys.sealing_public, "elsewhere:2", b"x" * 64)
    value = commitment(1, "a", b"s" * 32)
    entry = entries.seed_commit(instance_id="a", round_id=1, commitment=value)
    with pytest.raises(ProtocolError, match="bad signature"):
        launcher.commit("a", 1, value, entry.sign(forged).signature)

    assert launcher.store.commits(1) == {}
    stored = launcher.store.get_instance("a")
    assert stored is not None and stored.mpc_address == "a:1"


def test_committee_drawn_from_revealed_seed_and_survives_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    store = SQLiteStore(tmp_path / "launcher.sqlite")
    launcher = _launcher(store, clock, tmp_path)
    launcher.advance()
    secrets = {n: os.urandom(32) for n in ("a", "b", "c")}
    for name, secret in secrets.items():
        _commit(launcher, tmp_path, name, secret)
    launcher.advance()
    for name, secret in secrets.items():
        launcher.reveal(name, 1, secret)
    store.close()  # the launcher process dies here, with every reveal stored

    again = SQLiteStore(tmp_path / "launcher.sqlite")
    restarted = Launcher(again, policy=POLICY, spec=SPEC, clock=clock)
    restarted.advance()
    rnd = restarted.current()

    assert rnd is not None and rnd.phase is Phase.COLLECTING and rnd.round_id == 1
    keys = {i.instance_id: i.signing_key for i in again.instances()}
    assert rnd.committee == draw_committee(rnd.seed, 1, keys, 2)
    again.close()
