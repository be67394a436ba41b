"""A beacon-bound round: bound at open to a beacon round due after the reveals close, drawn
only with that round's verified value, which moves the seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from committees.seed import combine_reveals, commitment, committee_seed
from launch.launcher import Launcher, Schedule
from launch.memory_store import InMemoryStore
from launch.round import Phase, RoundPolicy, RoundStateError
from mpcrec.audit import entries
from mpcrec.crypto.beacon import Beacon, LocalSigner
from mpcrec.crypto.keys import NodeKeys
from mpcrec.errors import ProtocolError
from mpcrec.federation.beacon_http import LocalBeacon
from mpcrec.federation.spec import FederationSpec
from tests.launch.instances import register_instances

POLICY = RoundPolicy(committee_size=2, min_contributors=2, commit_s=5, reveal_s=5)
SPEC = FederationSpec(n_items=2, dim=2)
NAMES = ("a", "b", "c")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Tampered(LocalBeacon):
    """Serves every round with another round's signature."""

    def fetch(self, round_number: int) -> Beacon | None:
        found = super().fetch(round_number - 1)
        return None if found is None else Beacon(round_number, found.signature)


def _federation(
    tmp_path: Path, signer: bytes = bytes(range(32)), beacon: type[LocalBeacon] = LocalBeacon
) -> tuple[Launcher, Clock, dict[str, NodeKeys]]:
    clock = Clock()
    source = beacon(LocalSigner(signer), genesis_time=900, period=3, clock=clock)
    launcher = Launcher(
        InMemoryStore(), policy=POLICY, spec=SPEC, schedule=Schedule(), clock=clock, beacon=source
    )
    return launcher, clock, register_instances(launcher, tmp_path, NAMES)


def _commit_and_reveal(launcher: Launcher, keys: dict[str, NodeKeys]) -> dict[str, bytes]:
    launcher.advance()
    secrets = {n: bytes([i + 1]) * 32 for i, n in enumerate(NAMES)}
    for name, secret in secrets.items():
        value = commitment(1, name, secret)
        entry = entries.seed_commit(instance_id=name, round_id=1, commitment=value)
        launcher.commit(name, 1, value, entry.sign(keys[name].signing).signature)
    launcher.advance()
    for name, secret in secrets.items():
        launcher.reveal(name, 1, secret)
    launcher.advance()
    return secrets


def test_a_round_is_bound_to_a_beacon_round_due_after_its_reveals_close(tmp_path: Path) -> None:
    launcher, _clock, _keys = _federation(tmp_path)
    launcher.advance()
    opened = launcher.current()
    assert opened is not None and opened.phase is Phase.OPEN
    # due strictly after 1000 + 5 + 5: rounds are due at 900, 903, ..., 1011
    assert (opened.beacon_round, opened.beacon_at) == (38, 1011.0)


def test_the_draw_waits_for_the_beacon_and_takes_it_into_the_seed(tmp_path: Path) -> None:
    launcher, clock, keys = _federation(tmp_path)
    secrets = _commit_and_reveal(launcher, keys)
    waiting = launcher.current()
    assert waiting is not None and waiting.phase is Phase.REVEALING  # every reveal is in

    clock.now = 1011.0
    launcher.advance()
    drawn = launcher.current()

    assert drawn is not None and drawn.phase is Phase.COLLECTING
    value = LocalSigner(bytes(range(32))).sign(launcher.beacon.chain, 38)  # type: ignore[union-attr]
    expected = committee_seed(1, combine_reveals(1, secrets), value.randomness)
    assert drawn.seed == expected != combine_reveals(1, secrets)
    assert drawn.beacon_signature == value.signature


def test_another_beacon_key_gives_another_seed(tmp_path: Path) -> None:
    seeds = []
    for key in (bytes(range(32)), bytes(32)):
        launcher, clock, keys = _federation(tmp_path / key.hex()[:4], signer=key)
        _commit_and_reveal(launcher, keys)
        clock.now = 1011.0
        launcher.advance()
        rnd = launcher.current()
        assert rnd is not None and rnd.phase is Phase.COLLECTING
        seeds.append(rnd.seed)
    assert seeds[0] != seeds[1]


def test_no_reveal_is_taken_once_the_beacon_round_is_due(tmp_path: Path) -> None:
    launcher, clock, keys = _federation(tmp_path)
    launcher.advance()
    for name in NAMES:
        value = commitment(1, name, bytes(32))
        entry = entries.seed_commit(instance_id=name, round_id=1, commitment=value)
        launcher.commit(name, 1, value, entry.sign(keys[name].signing).signature)
    launcher.advance()
    clock.now = 1011.0
    with pytest.raises(RoundStateError, match="reveals closed when beacon round 38 was due"):
        launcher.reveal("a", 1, bytes(32))


def test_a_beacon_that_does_not_verify_is_never_drawn_with(tmp_path: Path) -> None:
    launcher, clock, keys = _federation(tmp_path, beacon=Tampered)
    _commit_and_reveal(launcher, keys)
    clock.now = 1011.0
    launcher.advance()
    still = launcher.current()
    assert still is not None and still.phase is Phase.REVEALING

    clock.now = 1011.0 + POLICY.reveal_s
    launcher.advance()
    aborted = launcher.store.get_round(1)
    assert aborted is not None and aborted.phase is Phase.ABORTED
    assert aborted.reason == "beacon round 38 is not available" and aborted.committee == ()


def test_a_reveal_that_does_not_open_its_commitment_is_refused(tmp_path: Path) -> None:
    launcher, _clock, keys = _federation(tmp_path)
    launcher.advance()
    for name in NAMES:
        value = commitment(1, name, bytes(32))
        entry = entries.seed_commit(instance_id=name, round_id=1, commitment=value)
        launcher.commit(name, 1, value, entry.sign(keys[name].signing).signature)
    launcher.advance()
    with pytest.raises(ProtocolError, match="a: the reveal does not open its commitment"):
        launcher.reveal("a", 1, b"\x01" * 32)
    launcher.reveal("a", 1, bytes(32))
    assert launcher.store.reveals(1) == {"a": bytes(32)}
