"""Both launcher clients, over gRPC (a real server, mutual TLS) and in process, tell a node
the same: the same rounds publish the same model, the same calls are refused alike."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from launch.in_process import InProcessLauncherClient
from launch.launcher import Launcher
from launch.service import serve
from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.pki import CertPaths, create_ca, issue_certificate
from mpcrec.federation.launcher_client import LauncherClient
from mpcrec.federation.refusals import InvalidMessage, NotPermitted, RoundStateError
from mpcrec.federation.spec import FederationSpec
from mpcrec.node.daemon import Node
from mpcrec.node.grpc_client import GrpcLauncherClient
from mpcrec.node.key_check import KeyCheck, own_binding
from mpcrec.node.messages import registration
from mpcrec.node.model_provenance import ModelProvenance
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.trainer import DriftTrainer
from mpcrec.proto import convert
from mpcrec.proto import federation_pb2 as pb
from tests.node.world import RATE, make_launcher, node_config, run_nodes

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]
ROUNDS = 2
SPEC = FederationSpec(
    n_items=6, dim=3, clip_norm=100.0, server_momentum=0.5, aggregation="plaintext"
)
UNBOUND = (b"", b"")  # the refusals below come before any binding is looked at


def _done(launcher: Launcher) -> bool:
    return launcher.model(-1).version >= ROUNDS


def _over_grpc(root: Path, port: int) -> bytes:
    create_ca(root / "ca")
    server_tls = issue_certificate(root / "ca", root, instance_id="launcher", hosts=["127.0.0.1"])
    launcher = make_launcher(spec=SPEC, rounds=ROUNDS, min_instances=len(NAMES))
    address = f"127.0.0.1:{port}"
    nodes = [
        Node(
            node_config(
                root,
                name,
                tls=issue_certificate(root / "ca", root, instance_id=name, hosts=[]),
                launcher=address,
            ),
            DriftTrainer(name, rate=RATE),
        )
        for name in NAMES
    ]
    server = serve(launcher, address, server_tls)
    try:
        run_nodes(launcher, nodes, lambda: _done(launcher), timeout_s=60)
        _both_forms_pass(address, nodes[0].config.tls)
        _an_altered_digest_is_refused(launcher, address, nodes[0].config.tls)
    finally:
        server.stop(grace=None)
    return launcher.model(ROUNDS).model_hash


def _both_forms_pass(address: str, tls: CertPaths) -> None:
    """The last model, asked for without the shared result (an older node), with it, and
    without again (the service keeps both forms), is the same and passes the node's check."""
    client = GrpcLauncherClient(address, tls)
    forms = (False, True, False)
    try:
        heads = [
            list(client._stub.GetModel(pb.GetModelRequest(version=ROUNDS, shared_result=shared)))
            for shared in forms
        ]
    finally:
        client.close()
    assert [bool(chunks[0].committee_result) for chunks in heads] == list(forms)
    models = [convert.model_from_chunks(chunks) for chunks in heads]
    check = ModelProvenance(KeyCheck(tls.ca), lambda: 3)
    for model in models:
        check.check(model)
    assert len({m.model_hash for m in models}) == 1
    assert len({json.dumps([s.entry for s in m.committee], sort_keys=True) for m in models}) == 1


def _an_altered_digest_is_refused(launcher: Launcher, address: str, tls: CertPaths) -> None:
    """A launcher serving model v1 with the digest of other contributions in its
    committee's shared result, or the maps in place of the digest, is refused
    (``model-unsigned``) by the node's check of what it fetched over gRPC; the honest v1
    passes. (v1: the service keeps the answer of the last version it was asked for only.)"""
    honest = launcher.model(1)
    result = honest.committee[0].entry["payload"]["result"]
    maps = {"accepted": {"tube-a": "00" * 32}, "rejected": {}, "weights": {"tube-a": 1.0}}
    forgeries = [
        {**result, "contributions": hashlib.sha256(b"other contributions").hexdigest()},
        {**{k: v for k, v in result.items() if k != "contributions"}, **maps},
    ]
    check = ModelProvenance(KeyCheck(tls.ca), lambda: 3)
    client = GrpcLauncherClient(address, tls)
    try:
        for forged in forgeries:
            committee = tuple(
                replace(s, entry={**s.entry, "payload": {"result": forged}})
                for s in honest.committee
            )
            launcher.committee_signatures.attach = lambda m, c=committee: replace(m, committee=c)
            served = client.get_model(1)
            with pytest.raises(RoundRefused) as refused:
                check.check(served)
            assert refused.value.rule == "model-unsigned"
            assert "signed by 0 of the 3" in refused.value.detail, refused.value.detail
            client.get_model(2)  # another version: the service forgets its answer for v1
    finally:
        del launcher.committee_signatures.attach
        client.close()
    check.check(honest)


def _in_process(root: Path) -> bytes:
    launcher = make_launcher(spec=SPEC, rounds=ROUNDS, min_instances=len(NAMES))
    nodes = [
        Node(
            node_config(root, name),
            DriftTrainer(name, rate=RATE),
            connect=lambda name=name: InProcessLauncherClient(launcher, name),
        )
        for name in NAMES
    ]
    run_nodes(launcher, nodes, lambda: _done(launcher), timeout_s=60)
    return launcher.model(ROUNDS).model_hash


@pytest.mark.timeout(120)
def test_grpc_and_in_process_clients_publish_the_same_model(tmp_path: Path, port: int) -> None:
    # Execute
    wire = _over_grpc(tmp_path / "grpc", port)
    local = _in_process(tmp_path / "local")

    # Assert
    assert wire == local


@dataclass
class Door:
    """A launcher, and clients that reach it as a named instance."""

    launcher: Launcher
    client: Callable[[str], LauncherClient]


@pytest.fixture(params=["grpc", "in_process"])
def door(request: pytest.FixtureRequest, tmp_path: Path, port: int) -> Iterator[Door]:
    """A launcher and a way to reach it as a named instance, over each client."""
    launcher = make_launcher(min_instances=99)  # no round opens by itself
    if request.param == "in_process":
        yield Door(launcher, lambda name: InProcessLauncherClient(launcher, name))
        return
    create_ca(tmp_path / "ca")
    server_tls = issue_certificate(
        tmp_path / "ca", tmp_path, instance_id="launcher", hosts=["127.0.0.1"]
    )
    address = f"127.0.0.1:{port}"
    server = serve(launcher, address, server_tls)

    def grpc_client(name: str) -> LauncherClient:
        tls = issue_certificate(tmp_path / "ca", tmp_path, instance_id=name, hosts=[])
        return GrpcLauncherClient(address, tls)

    try:
        yield Door(launcher, grpc_client)
    finally:
        server.stop(grace=None)


def _bound(root: Path, name: str, keys: NodeKeys) -> tuple[bytes, bytes]:
    """A certificate for ``name`` and its binding of ``keys``."""
    ca = root / "binding-ca"
    if not ca.exists():
        create_ca(ca)
    return own_binding(
        issue_certificate(ca, root / "bound", instance_id=name, hosts=[]), name, keys
    )


@pytest.mark.timeout(60)
def test_both_clients_refuse_alike(door: Door, tmp_path: Path) -> None:
    # Prepare
    keys = NodeKeys.load_or_create(tmp_path / "keys-a")
    a, b = door.client("tube-a"), door.client("tube-b")

    # Execute / Assert
    with pytest.raises(NotPermitted):  # not registered yet
        a.current_round()
    with pytest.raises(NotPermitted):  # registering in another's name
        b.register(registration("tube-a", keys, "127.0.0.1:1", UNBOUND))
    with pytest.raises(InvalidMessage, match="names 'tube-b'"):  # tube-b's certificate
        a.register(registration("tube-a", keys, "127.0.0.1:1", _bound(tmp_path, "tube-b", keys)))
    registered = a.register(registration("tube-a", keys, "127.0.0.1:1", UNBOUND))
    assert registered.spec == door.launcher.spec
    assert a.current_round() is None
    with pytest.raises(RoundStateError):  # no such round
        a.commit(7, b"c" * 32, b"s" * 64)
    with pytest.raises(InvalidMessage):  # no model of that version
        a.get_model(5)
    with pytest.raises(InvalidMessage):  # the same instance id with other keys
        a.register(registration("tube-a", NodeKeys.load_or_create(tmp_path / "k2"), "x:1", UNBOUND))
    assert a.get_model(-1) == door.launcher.model(0)
    a.close()
    b.close()
