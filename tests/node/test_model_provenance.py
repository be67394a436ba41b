"""A node takes a model version after 0 only with a full committee's signatures over it
(rule ``model-unsigned``, :mod:`mpcrec.node.model_provenance`); in process, over the real
launcher and its signed log. The real-process attack is
``tests/adversarial/test_hostile_models.py``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mpcrec.federation.published_model import CommitteeSignature, PublishedModel
from mpcrec.node.key_check import KeyCheck
from mpcrec.node.model_provenance import RULE, ModelProvenance
from mpcrec.node.round_refusal import RoundRefused
from tests.node.world import World, drive, make_launcher, published

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]


def _published_world(root: Path) -> World:
    w = World.in_process(make_launcher(), root, NAMES)
    w.register_all()
    drive(w, published(w, 1))
    return w


@pytest.fixture(scope="module")
def published_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world with model v1 published, for the checks that only read it."""
    w = _published_world(tmp_path_factory.mktemp("provenance"))
    try:
        yield w
    finally:
        w.close()


def _check(world: World) -> tuple[ModelProvenance, list[object]]:
    handed: list[object] = []
    ca = next(iter(world.nodes.values())).config.tls.ca
    return ModelProvenance(KeyCheck(ca), lambda: 3, handed.append), handed


def test_the_published_model_comes_with_its_committee_and_passes(published_world: World) -> None:
    world = published_world
    check, handed = _check(world)
    model = world.launcher.model(1)
    check.check(model)
    assert len(model.committee) == 3 and len(handed) == 3  # each handed on once checked
    check.check(world.launcher.model(0))  # the initial model: no committee


def _refused(check: ModelProvenance, model: PublishedModel) -> str:
    with pytest.raises(RoundRefused) as caught:
        check.check(model)
    assert caught.value.rule == RULE
    return caught.value.detail


def test_a_model_no_committee_signed_is_refused(published_world: World) -> None:
    world = published_world
    check, handed = _check(world)
    real = world.launcher.model(1)
    forged = PublishedModel.from_array(1, np.zeros_like(real.array()))
    padded = PublishedModel.from_array(1, np.vstack([real.array(), np.ones((2, real.dim))]))
    assert "another model of v1" in _refused(
        check, dataclasses.replace(forged, committee=real.committee)
    )
    assert "another model of v1" in _refused(
        check, dataclasses.replace(padded, committee=real.committee)
    )
    assert "no committee signature" in _refused(check, forged)
    assert handed == []


def test_fewer_members_another_version_or_unbound_keys_are_refused(
    published_world: World,
) -> None:
    world = published_world
    check, _ = _check(world)
    real = world.launcher.model(1)
    two = dataclasses.replace(real, committee=real.committee[:2])
    assert "signed by 2 of the 3" in _refused(check, two)
    twice = dataclasses.replace(real, committee=(real.committee[0],) * 3)
    assert "signed by 1 of the 3" in _refused(check, twice)
    renumbered = dataclasses.replace(real, version=2)
    assert "a result of v1" in _refused(check, renumbered)
    first, second, third = real.committee
    swapped = dataclasses.replace(first, certificate=second.certificate)  # another's certificate
    assert "signed by 2 of the 3" in _refused(
        check, dataclasses.replace(real, committee=(swapped, second, third))
    )
    made_up = CommitteeSignature.from_bytes(first.to_bytes())
    entry = {**made_up.entry, "sig": "00" * 64}
    bad = dataclasses.replace(made_up, entry=entry)
    assert "not its key's" in _refused(
        check, dataclasses.replace(real, committee=(bad, second, third))
    )


def test_a_node_served_a_forged_base_records_the_refusal_and_sends_nothing(
    published_world: World,
) -> None:
    world = published_world  # the last test of the module: it moves the world to round 2
    name = NAMES[0]
    node, client = world.nodes[name], world.clients[name]
    real_get = client.get_model

    def forged(version: int) -> PublishedModel:
        model = real_get(version)
        if version < 1:
            return model
        return dataclasses.replace(model, data=np.zeros(model.n_items * model.dim).tobytes())

    client.get_model = forged  # type: ignore[method-assign]

    def refused() -> list[dict[str, object]]:
        return [r for r in node.refusals.entries() if r["rule"] == RULE]

    ann = drive(world, lambda a: a.round_id > 1 and len(world.launcher.store.contributions(2)) == 3)
    assert {r["round"] for r in refused()} == {ann.round_id} == {2}, node.refusals.entries()
    assert name not in world.launcher.store.contributions(2)  # it sent nothing
