"""The launcher's gRPC service over real sockets and mutual TLS, driven call by call."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from committees.seed import commitment
from launch.launcher import Launcher, Schedule
from launch.memory_store import InMemoryStore
from launch.round import RoundPolicy
from launch.service import serve
from mpcrec.audit import entries
from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.pki import CertPaths, create_ca, issue_certificate
from mpcrec.federation.contribution import envelopes_digest
from mpcrec.federation.plain import seal_plain
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.refusals import RegisterAgain
from mpcrec.federation.result import result_entry
from mpcrec.federation.spec import FederationSpec
from mpcrec.federation.tls import secure_channel
from mpcrec.proto import convert
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc

NAMES = ["a", "b", "c"]
T = 10.0


class Client:
    """One instance's view of the launcher: its certificate, keys and a stub."""

    def __init__(self, name: str, address: str, tls: CertPaths, keys: NodeKeys) -> None:
        self.name, self.keys, self.tls = name, keys, tls
        self.channel = secure_channel(address, tls)
        self.stub: Any = pb_grpc.LauncherStub(self.channel)

    def register(self, as_id: str | None = None) -> Any:
        entry = entries.registration(
            instance_id=as_id or self.name,
            signing_key=self.keys.signing_public,
            sealing_key=self.keys.sealing_public,
            address="127.0.0.1:1",
        )
        return self.stub.Register(
            pb.RegisterRequest(
                instance_id=as_id or self.name,
                signing_key=self.keys.signing_public,
                sealing_key=self.keys.sealing_public,
                mpc_address="127.0.0.1:1",
                entry_signature=entry.sign(self.keys.signing).signature,
            ),
            timeout=T,
        )

    def commit(self, round_id: int, secret: bytes) -> Any:
        value = commitment(round_id, self.name, secret)
        entry = entries.seed_commit(instance_id=self.name, round_id=round_id, commitment=value)
        signature = entry.sign(self.keys.signing).signature
        request = pb.SeedCommit(round_id=round_id, commitment=value, entry_signature=signature)
        return self.stub.SubmitCommit(request, timeout=T)


@contextmanager
def served_launcher(
    tmp_path: Path, port: int, *, commit_s: float = T, workers: int | None = None
) -> Iterator[tuple[Launcher, dict[str, Client]]]:
    """A launcher of one 3-of-3 plaintext round served over mutual TLS on ``port`` (its
    gRPC pool of ``workers`` threads, by default :func:`serve`'s) with its scheduler
    running, and a :class:`Client` for each of :data:`NAMES` with its own certificate of the
    same CA; all stopped on exit."""
    create_ca(tmp_path / "ca")
    server_tls = issue_certificate(
        tmp_path / "ca", tmp_path, instance_id="launcher", hosts=["127.0.0.1"]
    )
    policy = RoundPolicy(
        committee_size=3,
        min_contributors=3,
        cooldown=1,
        commit_s=commit_s,
        reveal_s=T,
        collect_s=T,
        compute_s=T,
    )
    launcher = Launcher(
        InMemoryStore(),
        policy=policy,
        spec=FederationSpec(n_items=3, dim=2, aggregation="plaintext"),
        schedule=Schedule(min_instances=3, rounds=1),
    )
    address = f"127.0.0.1:{port}"
    if workers is None:
        server = serve(launcher, address, server_tls)
    else:
        server = serve(launcher, address, server_tls, workers=workers)
    stop = threading.Event()
    scheduler = threading.Thread(target=launcher.run, args=(stop,), daemon=True)
    scheduler.start()
    clients = {
        n: Client(
            n,
            address,
            issue_certificate(tmp_path / "ca", tmp_path, instance_id=n, hosts=[]),
            NodeKeys.load_or_create(tmp_path / n),
        )
        for n in NAMES
    }
    try:
        yield launcher, clients
    finally:
        stop.set()
        launcher.stopping.set()
        for c in clients.values():
            c.channel.close()
        server.stop(grace=None)
        scheduler.join(timeout=5)


@pytest.fixture
def world(tmp_path: Path, port: int) -> Iterator[dict[str, Any]]:
    with served_launcher(tmp_path, port) as (launcher, clients):
        address = f"127.0.0.1:{port}"
        yield {"launcher": launcher, "clients": clients, "address": address, "tmp": tmp_path}


def _wait_state(client: Client, state: str) -> Any:
    deadline = time.monotonic() + T
    while time.monotonic() < deadline:
        ann = client.stub.GetRound(pb.GetRoundRequest(), timeout=T)
        if ann.state == state:
            return ann
        time.sleep(0.02)
    raise AssertionError(f"round never reached {state}: {ann.state} {ann.reason}")


def _to_collecting(clients: dict[str, Client]) -> Any:
    for c in clients.values():
        c.register()
    ann = _wait_state(clients["a"], "open")
    secrets = {n: os.urandom(32) for n in clients}
    for n, c in clients.items():
        c.commit(ann.round_id, secrets[n])
    _wait_state(clients["a"], "revealing")
    for n, c in clients.items():
        c.stub.SubmitReveal(pb.SeedReveal(round_id=ann.round_id, secret=secrets[n]), timeout=T)
    return _wait_state(clients["a"], "collecting")


def _upload(client: Client, ann: Any, text: bytes, params_hash: bytes = b"") -> Any:
    """A plaintext envelope per member; its bytes depend on ``text`` only (for replays);
    sealed under the round's parameters (or those of ``params_hash``)."""
    members = [m.instance_id for m in ann.committee]
    params_hash = params_hash or ann.params_hash
    body = seal_plain(
        [0.0],
        round_id=ann.round_id,
        model_hash=ann.model_hash,
        contributor=text.decode(),
        weight=1.0,
        params_hash=params_hash,
    )
    entry = entries.contribution(
        round_id=ann.round_id,
        instance_id=client.name,
        model_version=ann.model_version,
        digest=envelopes_digest(dict.fromkeys(members, body)),
        size=len(body) * len(members),
        weight=1.0,
        params_hash=params_hash,
    )
    header = pb.ContributionHeader(
        round_id=ann.round_id,
        weight=1.0,
        recipients=members,
        sizes=[len(body)] * len(members),
        entry_signature=entry.sign(client.keys.signing).signature,
        params_hash=params_hash,
    )
    chunks = [pb.ContributionChunk(header=header), pb.ContributionChunk(data=body * len(members))]
    return client.stub.UploadContribution(iter(chunks), timeout=T)


PLAIN_HEAD = 8 + 8 + 32 + 8 + 32 + 2  # the plaintext envelope's fixed header


@pytest.mark.timeout(60)
def test_replayed_upload_and_second_upload_refused(world: dict[str, Any]) -> None:
    clients = world["clients"]
    ann = _to_collecting(clients)

    receipt = _upload(clients["a"], ann, b"first upload")
    with pytest.raises(grpc.RpcError) as again:
        _upload(clients["a"], ann, b"another upload")
    with pytest.raises(grpc.RpcError) as replay:  # b re-sends a's bytes
        _upload(clients["b"], ann, b"first upload")

    assert receipt.bytes_received == 3 * (PLAIN_HEAD + len(b"first upload") + 8)
    assert again.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert replay.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert world["launcher"].store.contributions(ann.round_id) == {"a": 1.0}


@pytest.mark.timeout(60)
def test_an_upload_under_other_round_parameters_is_told_to_register_again(
    world: dict[str, Any],
) -> None:
    clients = world["clients"]
    ann = _to_collecting(clients)

    with pytest.raises(grpc.RpcError) as stale:  # sealed before the parameters changed
        _upload(clients["a"], ann, b"stale upload", params_hash=b"\x01" * 32)

    assert stale.value.code() is grpc.StatusCode.ABORTED
    assert "hint: register again: the launcher's parameters changed" in stale.value.details()
    assert isinstance(convert.refusal(stale.value), RegisterAgain)  # what the node sees
    assert world["launcher"].store.contributions(ann.round_id) == {}


@pytest.mark.timeout(60)
def test_upload_to_wrong_members_or_with_wrong_length_refused(world: dict[str, Any]) -> None:
    clients = world["clients"]
    ann = _to_collecting(clients)
    members = [m.instance_id for m in ann.committee]
    wrong = pb.ContributionHeader(
        round_id=ann.round_id, weight=1.0, recipients=members[::-1], sizes=[1, 1, 1]
    )
    short = pb.ContributionHeader(
        round_id=ann.round_id, weight=1.0, recipients=members, sizes=[5, 5, 5]
    )

    with pytest.raises(grpc.RpcError) as misaddressed:
        clients["a"].stub.UploadContribution(
            iter([pb.ContributionChunk(header=wrong), pb.ContributionChunk(data=b"xyz")]), timeout=T
        )
    with pytest.raises(grpc.RpcError) as truncated:
        clients["a"].stub.UploadContribution(
            iter([pb.ContributionChunk(header=short), pb.ContributionChunk(data=b"xyz")]), timeout=T
        )

    assert misaddressed.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert truncated.value.code() is grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.timeout(60)
def test_calls_are_tied_to_the_certificate(world: dict[str, Any]) -> None:
    clients = world["clients"]

    with pytest.raises(grpc.RpcError) as impostor:
        clients["a"].register(as_id="b")
    with pytest.raises(grpc.RpcError) as unregistered:
        clients["c"].stub.GetRound(pb.GetRoundRequest(), timeout=T)

    assert impostor.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert unregistered.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert world["launcher"].store.get_instance("b") is None


@pytest.mark.timeout(60)
def test_certificate_from_another_ca_refused(world: dict[str, Any]) -> None:
    tmp: Path = world["tmp"]
    create_ca(tmp / "other-ca")
    stranger = issue_certificate(tmp / "other-ca", tmp / "other", instance_id="a", hosts=[])
    # trusts the real CA (so the server checks out) but presents a leaf from the other CA
    tls = CertPaths(cert=stranger.cert, key=stranger.key, ca=tmp / "ca" / "ca.pem")
    client = Client("a", world["address"], tls, NodeKeys.load_or_create(tmp / "stranger"))

    try:
        with pytest.raises(grpc.RpcError) as refused:
            client.register()
    finally:
        client.channel.close()

    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    assert world["launcher"].store.get_instance("a") is None


@pytest.mark.timeout(60)
def test_reveal_that_does_not_open_the_commitment_refused(world: dict[str, Any]) -> None:
    clients = world["clients"]
    for c in clients.values():
        c.register()
    ann = _wait_state(clients["a"], "open")
    for c in clients.values():
        c.commit(ann.round_id, b"s" * 32)
    _wait_state(clients["a"], "revealing")

    with pytest.raises(grpc.RpcError) as bad:
        clients["a"].stub.SubmitReveal(
            pb.SeedReveal(round_id=ann.round_id, secret=b"t" * 32), timeout=T
        )

    assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.timeout(60)
def test_results_must_be_signed_by_the_member_then_the_round_publishes(
    world: dict[str, Any],
) -> None:
    clients: dict[str, Client] = world["clients"]
    ann = _to_collecting(clients)
    for client in clients.values():
        _upload(client, ann, f"from {client.name}".encode())
    ann = _wait_state(clients["a"], "computing")
    model = PublishedModel.from_array(1, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    accepted = sorted(clients)
    digests = dict(zip(ann.contributors, ann.digests, strict=True))

    def result(member: Client, signer: Client) -> Any:
        entry = result_entry(
            member=member.name,
            round_id=ann.round_id,
            new_version=1,
            model_hash=model.model_hash,
            digests=digests,
            accepted=accepted,
            params=world["launcher"].params,
            weights=dict.fromkeys(ann.contributors, 1.0),
        )
        return pb.RoundResult(
            round_id=ann.round_id,
            ok=True,
            model=model.data,
            model_hash=model.model_hash,
            accepted=accepted,
            signature=entry.sign(signer.keys.signing).signature,
            params_hash=ann.params_hash,
            weights=[1.0] * len(ann.contributors),
        )

    with pytest.raises(grpc.RpcError) as forged:  # a's result signed with b's key
        clients["a"].stub.SubmitResult(result(clients["a"], clients["b"]), timeout=T)
    for client in clients.values():
        client.stub.SubmitResult(result(client, client), timeout=T)
    ended = _wait_state(clients["a"], "published")

    assert forged.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert ended.published_version == 1
    assert world["launcher"].model(-1).data == model.data
