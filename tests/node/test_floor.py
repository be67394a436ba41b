"""A node's privacy floor and its signed round parameters, against a launcher that lies:
each refusal is a rule in ``refusals.jsonl`` and nothing is sent for that step."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from launch.in_process import InProcessLauncherClient
from mpcrec.federation.announcement import Phase, RoundAnnouncement
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.round_params import RoundParams
from mpcrec.federation.spec import FederationSpec
from mpcrec.node import floor
from mpcrec.node.config import PrivacyFloor
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.trainer import DriftTrainer
from tests.node.world import RATE, SPEC, World, drive, make_launcher

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]
SECURE = RoundParams(
    aggregation="secure",
    clip_norm=1.0,
    range_bound=16.0,
    noise_multiplier=1.0,
    min_contributors=3,
    committee_size=3,
)


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"aggregation": "plaintext"}, "floor-aggregation"),
        ({"range_bound": 0.0}, "floor-range-check"),
        ({"range_bound": 12.0}, "floor-range-check"),
        ({"min_contributors": 2}, "floor-min-contributors"),
        ({"noise_multiplier": 0.5}, "floor-noise"),
    ],
)
def test_parameters_below_the_floor_are_refused(change: dict[str, object], rule: str) -> None:
    below = dataclasses.replace(SECURE, **change)  # type: ignore[arg-type]
    strict = PrivacyFloor(min_noise_multiplier=1.0)

    floor.check_params(strict, SECURE)  # at the floor: taken
    with pytest.raises(RoundRefused) as refused:
        floor.check_params(strict, below)

    assert refused.value.rule == rule


def test_the_opt_outs_are_named_and_off_by_default() -> None:
    plain = dataclasses.replace(SECURE, aggregation="plaintext", range_bound=0.0)
    unguarded = dataclasses.replace(SECURE, range_bound=0.0)

    floor.check_params(PrivacyFloor(allow_plaintext=True), plain)
    floor.check_params(PrivacyFloor(min_range_ratio=0.0), unguarded)
    assert PrivacyFloor() == PrivacyFloor(
        allow_plaintext=False,
        min_range_ratio=13.0,
        min_contributors=3,
        min_noise_multiplier=0.0,
        max_normalised_weight=0.5,
        allow_model_reuse=False,
    )


def _envelope(contributor: str, weight: float) -> Envelope:
    return Envelope(contributor, weight, b"", b"")


def test_one_contributor_above_the_normalised_weight_cap_is_rejected_not_the_round() -> None:
    even = [_envelope(c, 1.0) for c in "abc"]
    weights = dict.fromkeys("abc", 1.0)
    assert floor.drop_dominant(PrivacyFloor(), even, weights) == even

    skewed = [_envelope("a", 1.0), _envelope("b", 1e-9), _envelope("c", 1e-9)]
    weights = {"a": 1.0, "b": 1e-9, "c": 1e-9}
    kept = floor.drop_dominant(PrivacyFloor(), skewed, weights)

    assert [e.contributor for e in kept] == ["b", "c"]
    assert weights == {"a": 0.0, "b": 1e-9, "c": 1e-9}


def _world(tmp_path: Path, spec: FederationSpec = SPEC, **floor_opts: bool) -> World:
    opts = {"allow_plaintext": True, **floor_opts}
    world = World.in_process(
        make_launcher(spec=spec), tmp_path, NAMES, privacy_floor=PrivacyFloor(**opts)
    )
    world.register_all()
    return world


def _rules(world: World) -> dict[str, set[str]]:
    return {n: {e["rule"] for e in node.refusals.entries()} for n, node in world.nodes.items()}


def test_a_plaintext_federation_gets_no_contribution_from_a_default_node(tmp_path: Path) -> None:
    """Downgrade to plaintext: the launcher's spec says plaintext; nodes with the default
    floor refuse to contribute (and to compute)."""
    world = _world(tmp_path, allow_plaintext=False)

    collecting = drive(world, lambda a: a.phase is Phase.COLLECTING)

    assert world.launcher.store.contributions(collecting.round_id) == {}
    assert _rules(world) == {key: {"floor-aggregation"} for key in NAMES}
    world.close()


def test_announced_parameters_that_differ_from_the_registered_ones_are_refused(
    tmp_path: Path,
) -> None:
    world = _world(tmp_path)
    for _ in range(20):  # every step up to collecting, which the nodes get only as a lie
        world.launcher.advance()
        collecting = world.current()
        if collecting.phase is Phase.COLLECTING:
            break
        world.hand_out(collecting)
    assert collecting.phase is Phase.COLLECTING and collecting.params is not None
    # the launcher announces this round with another clip norm (and the matching digest)
    quiet = dataclasses.replace(collecting.params, clip_norm=1e6)
    lying = dataclasses.replace(collecting, params=quiet, params_hash=quiet.digest)

    for name, node in world.nodes.items():
        node.handle(world.clients[name], lying)

    assert world.launcher.store.contributions(collecting.round_id) == {}
    assert _rules(world) == {key: {"params-mismatch"} for key in NAMES}
    world.close()


class SkewingClient(InProcessLauncherClient):
    """Streams the envelopes with a weight of its choosing for one contributor, or drops
    every envelope but two."""

    victim = ""
    weight: float | None = None
    keep: int | None = None

    def fetch_shares(self, round_id: int) -> list[Envelope]:
        found = super().fetch_shares(round_id)
        if self.keep is not None:
            return found[: self.keep]
        return [
            dataclasses.replace(e, weight=self.weight) if e.contributor == self.victim else e
            for e in found
        ]


def _compute_with(world: World, **lie: object) -> RoundAnnouncement:
    for name in NAMES:
        client = SkewingClient(world.launcher, name)
        for key, value in lie.items():
            setattr(client, key, value)
        world.clients[name] = client
    return drive(world, lambda a: a.phase is Phase.COMPUTING)


@pytest.mark.parametrize("weight", [1e12, float("inf"), 1e-9])
def test_a_member_takes_weights_from_the_signed_envelopes_not_the_launcher(
    tmp_path: Path, weight: float
) -> None:
    """Skewed or infinite weights streamed by the launcher: every member refuses
    (``weight-mismatch``) and signs nothing."""
    world = _world(tmp_path)

    computing = _compute_with(world, victim="tube-a", weight=weight)

    members = set(computing.members)
    assert {n for n, rules in _rules(world).items() if "weight-mismatch" in rules} == members
    assert world.launcher.store.results(computing.round_id) == {}
    world.close()


def test_a_member_enforces_the_minimum_contributors_itself(tmp_path: Path) -> None:
    """The launcher streams only two of the frozen contributions: no member returns a
    model (each reports the round failed)."""
    world = _world(tmp_path)

    computing = _compute_with(world, keep=2)
    world.launcher.advance()

    results = world.launcher.store.results(computing.round_id)
    assert set(results) == set(computing.members)
    assert not any(r.ok for r in results.values())
    world.close()


def test_a_contributor_caps_its_weight_and_members_reject_one_dominating_contributor(
    tmp_path: Path,
) -> None:
    world = _world(tmp_path)
    world.nodes["tube-a"].trainer = DriftTrainer("tube-a", rate=RATE, weight=1e12)

    computing = drive(world, lambda a: a.phase is Phase.COMPUTING)

    weights = world.launcher.store.contributions(computing.round_id)
    assert weights["tube-a"] == SPEC.max_weight  # clamped before signing
    for member in computing.members:  # each member's step: tube-a rejected, the rest summed
        world.nodes[member].handle(world.clients[member], computing)
    results = world.launcher.store.results(computing.round_id)
    assert set(results) == set(computing.members)
    assert all(r.ok and "tube-a" not in r.accepted for r in results.values())
    assert not any(_rules(world).values())
    world.close()
