"""A node takes a model version after 0 only with a full committee's signatures over it
(rule ``model-unsigned``, :mod:`mpcrec.node.model_provenance`); in process, over the real
launcher and its signed log. The real-process attacks are
``tests/adversarial/test_hostile_catalogue.py`` (stages ``pad-rows``, ``forge-rows``) and
``tests/adversarial/test_hostile_ledger.py`` (stage ``alter-result``, all three forms)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mpcrec.audit.canonical import canonical_json
from mpcrec.federation.committee_wire import committee_from_wire, committee_to_wire
from mpcrec.federation.published_model import CommitteeSignature, PublishedModel
from mpcrec.federation.tls import MAX_MESSAGE
from mpcrec.node.key_check import KeyCheck
from mpcrec.node.model_provenance import RULE, ModelProvenance
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.proto import convert
from tests.node.committee_bytes import fetch_bytes, with_contributors
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


def _over_the_wire(model: PublishedModel, *, shared_result: bool = True) -> list[Any]:
    return list(convert.model_chunks(model, shared_result=shared_result))


def test_the_shared_result_travels_once_and_both_forms_pass(published_world: World) -> None:
    world = published_world
    check, handed = _check(world)
    real = world.launcher.model(1)
    chunks = _over_the_wire(real)
    head = chunks[0]
    assert json.loads(head.committee_result) == real.committee[0].entry["payload"]["result"]
    assert all("payload" not in json.loads(s)["entry"] for s in head.committee_signatures)
    rebuilt = convert.model_from_chunks(chunks)
    assert [s.entry for s in rebuilt.committee] == [s.entry for s in real.committee]
    check.check(rebuilt)
    old = _over_the_wire(real, shared_result=False)  # an older launcher's (or node's) form
    assert old[0].committee_result == b""
    assert all("payload" in json.loads(s)["entry"] for s in old[0].committee_signatures)
    check.check(convert.model_from_chunks(old))
    assert len(handed) == 6


def test_a_member_whose_payload_differs_is_sent_in_full(published_world: World) -> None:
    real = published_world.launcher.model(1)
    first, second, third = real.committee
    other = {"result": {**first.entry["payload"]["result"], "sample_rate": 0.25}}
    odd = dataclasses.replace(third, entry={**third.entry, "payload": other})
    shared, wire = committee_to_wire((first, second, odd))
    assert json.loads(shared) == first.entry["payload"]["result"]
    assert ["payload" in json.loads(w)["entry"] for w in wire] == [False, False, True]
    assert [s.entry for s in committee_from_wire(shared, wire)] == [
        first.entry,
        second.entry,
        odd.entry,
    ]
    starved = committee_from_wire(shared, wire, budget=3 * len(shared) - 1)  # one byte short
    assert ["payload" in s.entry for s in starved] == [False, False, True]


def test_a_large_shared_result_under_many_entries_is_not_rebuilt(published_world: World) -> None:
    world = published_world
    check, _ = _check(world)
    chunks = _over_the_wire(world.launcher.model(1))
    many = list(chunks[0].committee_signatures) * 2
    padded = json.loads(chunks[0].committee_result)
    padded["padding"] = "x" * (MAX_MESSAGE // len(many))  # each rebuilt entry this heavy
    model = _with_head(
        chunks, committee_signatures=many, committee_result=json.dumps(padded).encode()
    )
    assert not any("payload" in s.entry for s in model.committee)
    assert "unreadable" in _refused(check, model)


def _with_head(chunks: list[Any], **fields: Any) -> PublishedModel:
    head = type(chunks[0])()
    head.CopyFrom(chunks[0])
    for name, value in fields.items():
        if name == "committee_signatures":
            del head.committee_signatures[:]
            head.committee_signatures.extend(value)
        else:
            setattr(head, name, value)
    return convert.model_from_chunks([head, *chunks[1:]])


def test_a_shared_result_the_launcher_altered_is_refused(published_world: World) -> None:
    world = published_world
    check, handed = _check(world)
    chunks = _over_the_wire(world.launcher.model(1))
    result = json.loads(chunks[0].committee_result)
    assert set(result) >= {"contributions", "model_hash"} and "accepted" not in result
    other = {**result, "contributions": hashlib.sha256(b"other contributions").hexdigest()}
    maps = {"accepted": {}, "rejected": {}, "weights": {}}  # the maps in place of their digest
    full = {**{k: v for k, v in result.items() if k != "contributions"}, **maps}
    noisier = {**result, "noise_multiplier": result["noise_multiplier"] + 1.0}
    for altered in (noisier, other, full):
        detail = _refused(check, _with_head(chunks, committee_result=canonical_json(altered)))
        assert "signed by 0 of the 3" in detail and "not its key's" in detail, detail
    for garbage in (b"{not json", b"\xff\xfe", b"[" * 100_000):
        assert "unreadable" in _refused(check, _with_head(chunks, committee_result=garbage))
    assert "unreadable" in _refused(check, _with_head(chunks, committee_result=b""))
    assert handed == []


def test_a_signature_whose_rebuilt_entry_does_not_verify_is_refused(
    published_world: World,
) -> None:
    world = published_world
    check, handed = _check(world)
    chunks = _over_the_wire(world.launcher.model(1))
    first, *others = chunks[0].committee_signatures
    wire = json.loads(first)
    for entry in (
        {**wire["entry"], "round": wire["entry"]["round"] + 1},
        {**wire["entry"], "sig": "00" * 64},
    ):
        forged = json.dumps({**wire, "entry": entry}).encode()
        detail = _refused(check, _with_head(chunks, committee_signatures=[forged, *others]))
        assert "signed by 2 of the 3" in detail and "not its key's" in detail, detail
    assert handed == []


def test_at_a_thousand_contributors_a_fetch_carries_a_fixed_size_result(
    published_world: World,
) -> None:
    base = published_world.launcher.model(1)
    before = with_contributors(base, 1000, maps=True)  # each result with its maps
    _, full = fetch_bytes(before, shared_result=False)
    _, shared = fetch_bytes(before, shared_result=True)
    assert full > 3 * 80_000 and shared < full / 2.5, (full, shared)
    _, digest = fetch_bytes(with_contributors(base, 1000), shared_result=True)
    _, few = fetch_bytes(with_contributors(base, 3), shared_result=True)
    assert digest == few < 20_000, (digest, few)  # the maps' digest: the same at any size


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
