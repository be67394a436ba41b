"""A launcher that substitutes keys: the node refuses to seal to them, or to open with them.

The launcher relays every key (members' sealing keys in the announcement, contributors'
signing keys with their envelopes). Here it lies, as a hostile launcher would, and the node
checks each key against the federation CA (:mod:`mpcrec.node.key_check`) before using it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.in_process import InProcessLauncherClient
from mpcrec.crypto.binding import load_tls_identity, sign_binding
from mpcrec.crypto.envelope import seal_contribution
from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.federation.announcement import Member, Phase, RoundAnnouncement
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.refusals import InvalidMessage
from mpcrec.federation.spec import FederationSpec
from mpcrec.node import messages
from tests.node.world import World, drive, make_launcher

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]
VICTIM = "tube-a"
SECURE = FederationSpec(n_items=6, dim=3, aggregation="secure", clip_norm=100.0)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World.in_process(make_launcher(), tmp_path, NAMES)
    try:
        w.register_all()
        yield w
    finally:
        w.close()


def _collecting_without(world: World, name: str) -> RoundAnnouncement:
    """Drive to ``collecting``; ``name`` has committed and revealed but not yet contributed."""
    drive(world, lambda ann: ann.phase is Phase.REVEALING)
    return drive(world, lambda ann: ann.phase is Phase.COLLECTING, skip=[name])


def _attacker(tmp_path: Path, seat: Member) -> Member:
    """``seat`` with keys the launcher made, vouched for by a CA the launcher runs."""
    rogue = create_ca(tmp_path / "rogue-ca")  # same subject name as the federation's CA
    paths = issue_certificate(
        rogue.key.parent, tmp_path / "rogue", instance_id=seat.instance_id, hosts=[]
    )
    keys = NodeKeys.load_or_create(tmp_path / "launcher-keys")
    cert, tls_key = load_tls_identity(paths.cert, paths.key)
    binding = sign_binding(tls_key, seat.instance_id, keys.signing_public, keys.sealing_public)
    return dataclasses.replace(
        seat,
        sealing_key=keys.sealing_public,
        signing_key=keys.signing_public,
        certificate=cert,
        key_binding=binding,
    )


SUBSTITUTIONS: dict[str, Callable[[Path, Member, Member], Member]] = {
    "its own sealing key under the member's binding": lambda tmp, seat, _: dataclasses.replace(
        seat, sealing_key=NodeKeys.load_or_create(tmp / "x").sealing_public
    ),
    "its own keys and a certificate from its own CA": lambda tmp, seat, _: _attacker(tmp, seat),
    "another instance's keys, certificate and binding": lambda _, seat, other: dataclasses.replace(
        other, instance_id=seat.instance_id, rank=seat.rank, mpc_address=seat.mpc_address
    ),
    "no certificate at all": lambda _, seat, __: dataclasses.replace(
        seat, certificate=b"", key_binding=b""
    ),
}


@pytest.mark.parametrize("substitution", sorted(SUBSTITUTIONS))
def test_a_contributor_refuses_to_seal_to_a_substituted_member_key(
    world: World, tmp_path: Path, substitution: str
) -> None:
    # Prepare: the launcher announces one member with keys that are not that member's
    ann = _collecting_without(world, VICTIM)
    seats = list(ann.committee)
    target = next(i for i, m in enumerate(seats) if m.instance_id != VICTIM)
    other = next(m for m in seats if m.instance_id not in (VICTIM, seats[target].instance_id))
    seats[target] = SUBSTITUTIONS[substitution](tmp_path, seats[target], other)
    hostile = dataclasses.replace(ann, committee=tuple(seats))
    victim = world.nodes[VICTIM]

    # Execute
    victim.handle(world.clients[VICTIM], hostile)

    # Assert: nothing sealed, nothing uploaded, the refusal on record
    assert VICTIM not in world.launcher.store.contributions(ann.round_id)
    refusals = victim.refusals.entries()
    assert [(r["round"], r["rule"]) for r in refusals] == [(ann.round_id, "unbound-key")]
    assert seats[target].instance_id in refusals[0]["detail"]


def test_the_honest_announcement_is_sealed_to(world: World) -> None:
    ann = _collecting_without(world, VICTIM)
    world.nodes[VICTIM].handle(world.clients[VICTIM], ann)
    assert VICTIM in world.launcher.store.contributions(ann.round_id)
    assert world.nodes[VICTIM].refusals.entries() == []


class ForgingClient(InProcessLauncherClient):
    """Hands a member its envelopes after ``forge`` rewrote them (a hostile launcher)."""

    forge: Callable[[list[Envelope]], list[Envelope]] = staticmethod(lambda envs: envs)

    def fetch_shares(self, round_id: int) -> list[Envelope]:
        return self.forge(super().fetch_shares(round_id))


def test_a_member_refuses_a_contribution_signed_by_a_substituted_key(world: World) -> None:
    # Prepare: the launcher swaps one contributor's signing key for one it holds
    ann = drive(world, lambda a: a.phase is Phase.COLLECTING)
    member = ann.members[0]
    forger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()

    def forge(envelopes: list[Envelope]) -> list[Envelope]:
        victim = next(i for i, e in enumerate(envelopes) if e.contributor != member)
        envelopes[victim] = dataclasses.replace(envelopes[victim], signing_key=forger)
        return envelopes

    client = ForgingClient(world.launcher, member)
    client.forge = forge  # type: ignore[method-assign]
    world.clients[member] = client

    # Execute
    computing = drive(world, lambda a: a.phase is Phase.COMPUTING)

    # Assert: this member sent no result; the other members computed theirs
    results = world.launcher.store.results(computing.round_id)
    assert member not in results
    assert set(results) == set(computing.members) - {member}
    refusals = world.nodes[member].refusals.entries()
    assert [(r["round"], r["rule"]) for r in refusals] == [(computing.round_id, "unbound-key")]


def _sealed_as(world: World, author: str, claimed: str, ann: RoundAnnouncement) -> list[bytes]:
    """``author``'s envelopes (signed with its own key) that claim to come from ``claimed``."""
    sealed = seal_contribution(
        np.zeros(SECURE.size),
        member_keys=[m.sealing_key for m in ann.committee],
        signing_key=world.nodes[author].keys.signing,
        round_id=ann.round_id,
        model_hash=ann.model_hash,
        contributor_id=claimed,
        weight=1.0,
        params_hash=ann.params_hash,
    )
    return [s.to_bytes() for s in sealed]


def test_the_launcher_turns_away_envelopes_claiming_another_contributor(tmp_path: Path) -> None:
    # Prepare: a secure federation; tube-a seals its envelopes in tube-b's name
    world = World.in_process(make_launcher(spec=SECURE), tmp_path, NAMES)
    try:
        world.register_all()
        ann = _collecting_without(world, VICTIM)
        blobs = _sealed_as(world, VICTIM, "tube-b", ann)
        keys = world.nodes[VICTIM].keys
        # well signed: only the claimed contributor is wrong
        upload, signature = messages.contribution(VICTIM, keys, ann, blobs, 1.0, ann.params_hash)

        # Execute / Assert
        with pytest.raises(InvalidMessage, match="claims contributor 'tube-b'"):
            world.clients[VICTIM].upload_contribution(upload, signature)
        assert VICTIM not in world.launcher.store.contributions(ann.round_id)
    finally:
        world.close()


def test_a_member_refuses_an_envelope_claiming_another_contributor(tmp_path: Path) -> None:
    # Prepare: a launcher that skips its header check relays tube-a's own, well-bound
    # envelope whose signed header claims tube-b
    world = World.in_process(make_launcher(spec=SECURE), tmp_path, NAMES)
    try:
        world.register_all()
        ann = drive(world, lambda a: a.phase is Phase.COLLECTING)  # everyone contributes
        world.launcher.advance()  # to computing, not yet handed to any member
        computing = world.current()
        assert computing.phase is Phase.COMPUTING and VICTIM in computing.contributors
        member = next(m for m in computing.members if m != VICTIM)
        rank = computing.members.index(member)
        forged = _sealed_as(world, VICTIM, "tube-b", ann)[rank]

        def forge(envelopes: list[Envelope]) -> list[Envelope]:
            return [
                dataclasses.replace(e, data=forged) if e.contributor == VICTIM else e
                for e in envelopes
            ]

        client = ForgingClient(world.launcher, member)
        client.forge = forge  # type: ignore[method-assign]

        # Execute: the member's step, before any party process starts
        world.nodes[member].handle(client, computing)

        # Assert
        assert member not in world.launcher.store.results(computing.round_id)
        refusals = world.nodes[member].refusals.entries()
        assert [r["rule"] for r in refusals] == ["slot-mismatch"]
        assert "claims 'tube-b'" in refusals[0]["detail"]
    finally:
        world.close()
