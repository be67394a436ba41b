"""The node's round handling against an in-process launcher: real nodes, one process."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from launch.in_process import InProcessLauncherClient
from mpcrec.federation.announcement import Phase, RoundAnnouncement
from mpcrec.federation.refusals import (
    LauncherUnreachable,
    NotPermitted,
    RoundStateError,
    StoreConflict,
)
from mpcrec.federation.result import MemberResult
from mpcrec.node.aggregation.plaintext import PlaintextAggregation
from mpcrec.node.config import PrivacyFloor
from mpcrec.node.daemon import Node
from mpcrec.node.launcher_trust import LAUNCHER_KEY_FILE
from mpcrec.node.messages import failure, registration
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.trainer import DriftTrainer
from tests.node.world import (
    POLICY,
    RATE,
    SPEC,
    Clock,
    World,
    drive,
    make_launcher,
    node_config,
    plaintext_twin,
    published,
    publishing_round,
)

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World.in_process(make_launcher(), tmp_path, NAMES)
    try:
        yield w
    finally:
        w.close()


def test_registration_pins_the_launcher_and_chooses_the_aggregation(world: World) -> None:
    # Execute
    world.register_all()

    # Assert
    launcher = world.launcher
    for name, node in world.nodes.items():
        registered = launcher.store.get_instance(name)
        assert registered is not None
        assert registered.signing_key == node.keys.signing_public
        assert (node.config.state_dir / LAUNCHER_KEY_FILE).read_bytes() == launcher.launcher_key
        assert node.spec == launcher.spec
        assert node.min_contributors == POLICY.min_contributors
        assert isinstance(node.aggregation, PlaintextAggregation)


def test_the_client_speaks_only_for_its_instance(world: World) -> None:
    # Prepare
    world.register_all()
    node = world.nodes["tube-a"]
    client = world.clients["tube-a"]
    stranger = InProcessLauncherClient(world.launcher, "tube-z")

    # Execute
    with pytest.raises(NotPermitted) as impostor:  # tube-a's client registering tube-b
        client.register(registration("tube-b", node.keys, "127.0.0.1:1", node.bound))
    with pytest.raises(NotPermitted) as unregistered:
        stranger.current_round()

    # Assert
    assert "tube-b" in impostor.value.message
    assert "not registered" in unregistered.value.message


def test_a_plaintext_round_publishes_the_plaintext_twin(world: World) -> None:
    # Prepare
    world.register_all()
    base = world.launcher.model(0).array()

    # Execute
    drive(world, published(world, 1))

    # Assert
    rnd = publishing_round(world, 1)
    expected = plaintext_twin(base, rnd.contributors)
    assert rnd.contributors == tuple(sorted(NAMES))
    np.testing.assert_allclose(world.launcher.model(1).array(), expected, rtol=0, atol=1e-12)
    assert all(node.served_version == 1 for node in world.nodes.values())
    assert all(
        node.trust.heads is not None and node.trust.heads.latest for node in world.nodes.values()
    )


def test_a_replayed_announcement_is_a_step_taken_once(world: World) -> None:
    # Prepare
    world.register_all()
    world.launcher.advance()

    # Execute: every announcement twice to every node
    for _ in range(20):
        ann = world.current()
        world.hand_out(ann)
        world.hand_out(ann)
        if world.launcher.model(-1).version == 1:
            break
        world.launcher.advance()

    # Assert
    rnd = publishing_round(world, 1)
    assert set(world.launcher.store.commits(rnd.round_id)) == set(NAMES)
    assert set(world.launcher.store.contributions(rnd.round_id)) == set(NAMES)
    assert set(world.launcher.store.results(rnd.round_id)) == set(rnd.committee)


def test_a_repeated_message_is_refused_and_counted_as_done(world: World) -> None:
    # Prepare: a member restarts after sending its result (its memory of the round is gone)
    world.register_all()
    ann = drive(world, lambda a: a.phase is Phase.COMPUTING)
    member = ann.members[0]
    root = world.nodes[member].config.state_dir.parent
    world.add(Node(node_config(root, member), DriftTrainer(member, rate=RATE)))
    world.nodes[member].register(world.clients[member])

    # Execute
    with pytest.raises(StoreConflict):  # what the client says to a second result
        world.nodes[member].on_announcement(world.clients[member], ann)
    world.nodes[member].handle(world.clients[member], ann)  # the daemon counts it as done
    drive(world, published(world, 1))

    # Assert
    assert publishing_round(world, 1).round_id == ann.round_id


def test_a_restarted_node_keeps_its_keys_and_takes_part_again(tmp_path: Path) -> None:
    # Prepare: tube-b restarts right after committing to round 2
    clock = Clock()
    world = World.in_process(make_launcher(clock=clock), tmp_path, NAMES)
    world.register_all()
    drive(world, published(world, 1))
    old = world.nodes["tube-b"]
    old.close()

    # Execute: the same state directory, a new process's memory (round 2's secret is lost)
    node = world.add(Node(old.config, DriftTrainer("tube-b", rate=RATE)))
    node.register(world.clients["tube-b"])
    withheld = drive(world, lambda a: a.phase is Phase.REVEALING)
    clock.now += POLICY.reveal_s + 1
    drive(world, published(world, 2))

    # Assert
    assert node.keys.signing_public == old.keys.signing_public
    left = world.launcher.store.get_round(withheld.round_id)
    assert left is not None and "seed withheld" in left.reason
    assert "tube-b" in publishing_round(world, 2).contributors
    assert node.served_version == 2
    world.close()


def _fail_one_member(world: World, clock: Clock) -> RoundAnnouncement:
    """Drive a round to computing, let one member stay silent until the round aborts."""
    computing = drive(world, lambda a: a.phase is Phase.COLLECTING)
    silent = computing.members[0]
    drive(world, lambda a: a.phase is Phase.COMPUTING, skip=[silent])
    clock.now += POLICY.compute_s + 1
    drive(world, lambda a: a.round_id > computing.round_id, skip=[silent])
    return computing


def test_after_a_round_aborted_while_computing_no_node_contributes_to_that_model_again(
    tmp_path: Path,
) -> None:
    """Members revealed their results, the launcher aborted: the round spent privacy, and
    a rerun on the same base model (whose difference with the first would give away an
    update) finds no contributor (``model-reused``, persisted in the state dir)."""
    # Prepare
    clock = Clock()
    world = World.in_process(make_launcher(clock=clock), tmp_path, NAMES)
    world.register_all()

    # Execute
    first = _fail_one_member(world, clock)
    rerun = drive(world, lambda a: a.phase is Phase.COLLECTING and a.round_id > first.round_id)

    # Assert
    assert rerun.model_version == first.model_version
    for name, node in world.nodes.items():
        rules = [(e["round"], e["rule"]) for e in node.refusals.entries()]
        assert (rerun.round_id, "model-reused") in rules, name
        restarted = Node(node_config(tmp_path, name), DriftTrainer(name, rate=RATE))
        with pytest.raises(RoundRefused):
            restarted.contributed.check(rerun)
    assert world.launcher.budget.rounds == 1  # revealed, not published: counted
    assert world.launcher.store.contributions(rerun.round_id) == {}
    world.close()


def test_with_noise_a_rerun_on_the_same_model_is_paid_for_in_epsilon_not_refused(
    tmp_path: Path,
) -> None:
    """The same abort after the reveal, in a federation with noise: each reveal is counted
    in ε (published or not), so nodes contribute to the rerun and the federation goes on."""
    # Prepare
    clock = Clock()
    noisy = dataclasses.replace(SPEC, noise_multiplier=1.0)
    world = World.in_process(make_launcher(clock=clock, spec=noisy), tmp_path, NAMES)
    world.register_all()

    # Execute
    first = _fail_one_member(world, clock)
    drive(world, published(world, 1))

    # Assert
    assert not any(
        e["rule"] == "model-reused" for n in world.nodes.values() for e in n.refusals.entries()
    )
    assert world.launcher.store.latest_model().version == 1
    assert world.launcher.budget.rounds == 2  # the aborted reveal and the published round
    assert first.model_version == 0
    world.close()


def test_a_round_whose_member_fails_is_aborted_and_the_next_one_publishes(tmp_path: Path) -> None:
    # Prepare: nodes that opt out of the once-per-model rule (fault tests)
    clock = Clock()
    floor = PrivacyFloor(allow_plaintext=True, allow_model_reuse=True)
    world = World.in_process(make_launcher(clock=clock), tmp_path, NAMES, privacy_floor=floor)
    world.register_all()

    # Execute: the member never computes; its deadline passes
    computing = _fail_one_member(world, clock)
    silent = computing.members[0]
    drive(world, published(world, 1))

    # Assert
    aborted = world.launcher.store.get_round(computing.round_id)
    assert aborted is not None and aborted.phase is Phase.ABORTED
    assert silent in aborted.reason
    assert publishing_round(world, 1).round_id > aborted.round_id
    world.close()


def _computing(world: World) -> RoundAnnouncement:
    """Every node registered and contributed: the round computing, its members' steps not
    taken yet."""
    world.register_all()
    drive(world, lambda a: a.phase is Phase.COLLECTING)
    world.launcher.advance()
    ann = world.current()
    assert ann.phase is Phase.COMPUTING
    return ann


def test_every_members_failure_is_named_in_the_launchers_log_also_after_the_abort(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: a round computing, its members' steps not taken
    ann = _computing(world)
    first, second, third = ann.members
    caplog.set_level(logging.INFO, logger="mpcrec.launcher")

    # Execute: one member's failure aborts the round (the next one opens); two come after
    rid = ann.round_id
    world.clients[first].submit_result(failure(first, rid, "open_share: misaddressed"))
    world.launcher.advance()
    assert world.current().round_id > rid
    for member, why in [(second, "open_share: equivocating"), (third, "peer died\nforged")]:
        with pytest.raises(RoundStateError):  # too late, as before
            world.clients[member].submit_result(failure(member, rid, why))

    # Assert: the abort names the first; a WARNING names each later one (quoted: one line),
    # and one more, once all have reported, every member's reason
    aborted = world.launcher.store.get_round(rid)
    assert aborted is not None and aborted.phase is Phase.ABORTED
    assert aborted.reason == f"members failed: {{'{first}': 'open_share: misaddressed'}}"
    late = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert late == [
        f"round {rid} ({aborted.reason}): {second} failed too: 'open_share: equivocating'",
        f"round {rid} ({aborted.reason}): {third} failed too: 'peer died\\nforged'",
        f"round {rid} aborted ({aborted.reason}); its members: "  # once all three reported
        f"{first} failed: 'open_share: misaddressed'; {second} failed: "
        f"'open_share: equivocating'; {third} failed: 'peer died\\nforged'",
    ]


class _AwayOnce:
    """A member's client whose first result finds the launcher gone (killed, restarting)."""

    def __init__(self, client: InProcessLauncherClient) -> None:
        self.client = client
        self.attempts: list[MemberResult] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.client, name)

    def submit_result(self, result: MemberResult) -> None:
        self.attempts.append(result)
        if len(self.attempts) == 1:
            raise LauncherUnreachable("UNAVAILABLE: the launcher is restarting")
        self.client.submit_result(result)


def test_a_member_whose_launcher_went_away_sends_the_same_signed_result_again(
    world: World,
) -> None:
    # Prepare: every contribution in, the round computing, one member's launcher away
    ann = _computing(world)
    member = ann.members[0]
    away = _AwayOnce(world.clients[member])  # type: ignore[arg-type]
    for name in set(NAMES) - {member}:
        world.nodes[name].handle(world.clients[name], ann)

    # Execute: the step fails on the launcher, then the announcement comes again
    with pytest.raises(LauncherUnreachable):
        world.nodes[member].handle(away, ann)  # type: ignore[arg-type]
    world.nodes[member].handle(away, ann)  # type: ignore[arg-type]
    drive(world, published(world, 1))

    # Assert: sent again as signed, not computed a second time; the round published
    assert [a.signature for a in away.attempts] == [away.attempts[0].signature] * 2
    assert publishing_round(world, 1).round_id == ann.round_id
