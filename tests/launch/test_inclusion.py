"""Inclusion proofs and timed heads, from the launcher, in process and over gRPC (mTLS)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from launch.in_process import InProcessLauncherClient
from launch.launcher import Launcher, Schedule
from launch.memory_store import InMemoryStore
from launch.round import RoundPolicy
from launch.service import serve
from mpcrec.audit import entries, merkle
from mpcrec.audit.log import AuditLog
from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.federation.refusals import InvalidMessage
from mpcrec.federation.spec import FederationSpec
from mpcrec.federation.tls import secure_channel
from mpcrec.proto import convert
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc
from tests.launch.instances import register_instances

T = 10.0


@pytest.fixture
def launcher(tmp_path: Path) -> tuple[Launcher, dict[str, NodeKeys]]:
    key = Ed25519PrivateKey.generate()
    audit = AuditLog(sqlite3.connect(":memory:", check_same_thread=False), launcher_key=key)
    launcher = Launcher(
        InMemoryStore(),
        policy=RoundPolicy(committee_size=3, min_contributors=3),
        spec=FederationSpec(n_items=3, dim=2),
        schedule=Schedule(min_instances=3),
        audit=audit,
        launcher_key=key.public_key().public_bytes_raw(),
        clock=lambda: 1_800_000_000.0,
    )
    keys = register_instances(launcher, tmp_path)
    assert launcher.trail.log is not None
    launcher.trail.log.sign_head(now=1_800_000_000.25)
    return launcher, keys


def _registration(name: str, keys: NodeKeys) -> entries.LogEntry:
    entry = entries.registration(
        instance_id=name,
        signing_key=keys.signing_public,
        sealing_key=keys.sealing_public,
        address=f"{name}:1",
    )
    return entry.sign(keys.signing)


def _proves(launcher: Launcher, entry: entries.LogEntry, index: int, path: list[bytes]) -> bool:
    head, _ = launcher.tree_head(0)
    leaf = merkle.leaf_hash(entry.at(index).leaf_bytes())
    return merkle.verify_inclusion(
        index=index, size=head.size, leaf=leaf, proof=path, root=head.root
    )


def test_in_process_an_instance_learns_where_its_entry_is(
    launcher: tuple[Launcher, dict[str, NodeKeys]],
) -> None:
    rules, keys = launcher
    client = InProcessLauncherClient(rules, "b")
    mine = _registration("b", keys["b"])
    head, _ = client.tree_head(0)

    index, path = client.inclusion_proof(mine.signature, head.size)

    assert _proves(rules, mine, index, path)
    assert head.timestamp == 1_800_000_000_250
    with pytest.raises(InvalidMessage, match="no entry with signature"):
        client.inclusion_proof(b"\x00" * 64, head.size)
    with pytest.raises(InvalidMessage):  # the entry is not in a tree that small
        client.inclusion_proof(mine.signature, index)


@pytest.fixture
def stub(
    tmp_path: Path, port: int, launcher: tuple[Launcher, dict[str, NodeKeys]]
) -> Iterator[Any]:
    create_ca(tmp_path / "ca")
    server_tls = issue_certificate(
        tmp_path / "ca", tmp_path, instance_id="launcher", hosts=["127.0.0.1"]
    )
    server = serve(launcher[0], f"127.0.0.1:{port}", server_tls)
    tls = issue_certificate(tmp_path / "ca", tmp_path, instance_id="a", hosts=[])
    channel = secure_channel(f"127.0.0.1:{port}", tls)
    try:
        yield pb_grpc.LauncherStub(channel)
    finally:
        channel.close()
        server.stop(grace=None)


@pytest.mark.timeout(60)
def test_over_grpc_inclusion_proofs_and_head_times(
    stub: Any, launcher: tuple[Launcher, dict[str, NodeKeys]]
) -> None:
    rules, keys = launcher
    mine = _registration("a", keys["a"])

    head, _ = convert.tree_head_from_pb(stub.GetTreeHead(pb.TreeHeadRequest(), timeout=T))
    reply = stub.GetInclusionProof(
        pb.InclusionRequest(entry_signature=mine.signature, tree_size=head.size), timeout=T
    )
    with pytest.raises(grpc.RpcError) as unknown:
        stub.GetInclusionProof(
            pb.InclusionRequest(entry_signature=b"\x01" * 64, tree_size=head.size), timeout=T
        )

    assert head.timestamp == 1_800_000_000_250 and head.verify(
        Ed25519PublicKey.from_public_bytes(rules.launcher_key)
    )
    index, path = convert.inclusion_from_pb(reply)
    assert reply.tree_size == head.size
    assert _proves(rules, mine, index, path)
    assert unknown.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def _head_and_proofs(stub: Any, known_size: int, signatures: list[bytes]) -> Any:
    request = pb.LogProofsRequest(known_size=known_size, entry_signatures=signatures)
    return convert.log_proofs_from_pb(stub.GetLogProofs(request, timeout=T))


@pytest.mark.timeout(60)
def test_over_grpc_one_call_gives_the_head_and_every_entry_s_proof(
    tmp_path: Path, stub: Any, launcher: tuple[Launcher, dict[str, NodeKeys]]
) -> None:
    rules, keys = launcher
    assert rules.trail.log is not None
    mine = [_registration(name, keys[name]) for name in ("a", "b", "c")]
    old, _ = rules.tree_head(0)
    register_instances(rules, tmp_path, ["d"])  # the log grows: a new head, a proof to it
    rules.trail.log.sign_head(now=1_800_000_001.0)

    head, consistency, proofs = _head_and_proofs(stub, old.size, [e.signature for e in mine])

    assert (head, consistency) == rules.tree_head(old.size)  # what GetTreeHead answers
    assert head.size == old.size + 1 and head.verify(
        Ed25519PublicKey.from_public_bytes(rules.launcher_key)
    )
    assert merkle.verify_consistency(
        old_size=old.size,
        new_size=head.size,
        old_root=old.root,
        new_root=head.root,
        proof=consistency,
    )
    assert len(proofs) == 3
    for entry, (index, path) in zip(mine, proofs, strict=True):
        assert (index, path) == rules.inclusion_proof(entry.signature, head.size)
        assert _proves(rules, entry, index, path)


@pytest.mark.timeout(60)
def test_over_grpc_log_proofs_refuse_an_unknown_entry_and_too_many(
    stub: Any, launcher: tuple[Launcher, dict[str, NodeKeys]]
) -> None:
    rules, keys = launcher
    mine = _registration("a", keys["a"]).signature

    with pytest.raises(grpc.RpcError) as unknown:
        _head_and_proofs(stub, 0, [mine, b"\x01" * 64])
    with pytest.raises(grpc.RpcError) as too_many:
        _head_and_proofs(stub, 0, [mine] * 65)
    head, _, proofs = _head_and_proofs(stub, 0, [mine] * 64)

    assert unknown.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "no entry with signature 0101" in (unknown.value.details() or "")
    assert too_many.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 64" in (too_many.value.details() or "")
    assert len(proofs) == 64 and _proves(rules, _registration("a", keys["a"]), *proofs[0])
    assert head == rules.tree_head(0)[0]
