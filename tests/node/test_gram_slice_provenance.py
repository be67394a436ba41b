"""A node takes a Gram release's slice only if its committee signed its digest (rule
``model-unsigned``, :mod:`mpcrec.node.model_provenance`): in process, over the real
launcher's signed model v1, its members' entries re-signed with their own keys around a
slice's digest (a hostile launcher serving another slice, none, or one where none was
signed is refused; the real-process release is tests/system/test_seqrec_demo.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pytest

from mpcrec.audit.entries import LogEntry
from mpcrec.federation.gram_slice import slice_bytes, slice_digest
from mpcrec.federation.published_model import PublishedModel
from mpcrec.node.key_check import KeyCheck
from mpcrec.node.model_provenance import ModelProvenance
from mpcrec.proto import convert
from tests.node.test_model_provenance import _published_world, _refused
from tests.node.world import World

SLICE = slice_bytes(np.array([4, 0, 17, 2, 9], dtype=np.int64))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = _published_world(tmp_path_factory.mktemp("gram-slice"))
    try:
        yield w
    finally:
        w.close()


def _signed_with_slice(world: World, model: PublishedModel, data: bytes) -> PublishedModel:
    """``model`` with ``data`` as its slice, every member's result re-signed (its own key)
    around the slice's digest, as members of a Gram release's round sign it."""
    committee = []
    for signature in model.committee:
        entry = LogEntry.from_json(signature.entry)
        result = {**entry.payload["result"], "slice_hash": slice_digest(data).hex()}
        key = world.nodes[entry.author].keys.signing
        resigned = LogEntry(entry.kind, entry.round, entry.author, {"result": result}).sign(key)
        committee.append(dataclasses.replace(signature, entry=resigned.to_json()))
    return dataclasses.replace(model, committee=tuple(committee), gram_slice=data)


def test_a_slice_is_taken_only_with_the_digest_its_committee_signed(world: World) -> None:
    ca = next(iter(world.nodes.values())).config.tls.ca
    check = ModelProvenance(KeyCheck(ca), lambda: 3)
    real = world.launcher.model(1)
    signed = _signed_with_slice(world, real, SLICE)

    check.check(signed)  # the signed slice passes, and over the wire (ModelChunk.gram_slice)
    served = convert.model_from_chunks(convert.model_chunks(signed, shared_result=True))
    assert served.gram_slice == SLICE
    check.check(served)
    inflated = slice_bytes(np.array([4, 0, 17, 2, 90], dtype=np.int64))
    assert "another Gram slice" in _refused(check, dataclasses.replace(signed, gram_slice=inflated))
    assert "another Gram slice" in _refused(check, dataclasses.replace(signed, gram_slice=b""))
    assert "another Gram slice" in _refused(check, dataclasses.replace(real, gram_slice=SLICE))
    check.check(real)  # a model whose committee signed no slice, served without one
