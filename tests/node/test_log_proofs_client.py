"""A node's end-of-round log check in one call (``GetLogProofs``): the same checks as the
head and the proofs asked apart, a fork still refused, and a launcher without the call
still checked the old way."""

from __future__ import annotations

import sqlite3
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpcrec.audit import entries
from mpcrec.audit.entries import TreeHead
from mpcrec.audit.log import AuditLog, ForkDetected
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.federation.tls import server_credentials
from mpcrec.node.grpc_client import GrpcLauncherClient
from mpcrec.node.launcher_trust import EVIDENCE_FILE, LauncherTrust
from mpcrec.proto import convert
from mpcrec.proto import federation_pb2_grpc as pb_grpc


def _log(key: Ed25519PrivateKey, reasons: list[str]) -> AuditLog:
    log = AuditLog(sqlite3.connect(":memory:"), launcher_key=key)
    for k, reason in enumerate(reasons):
        log.append(entries.abort(round_id=k + 1, reason=reason))
    log.sign_head()
    return log


class ShownLog:
    """A launcher client showing ``log`` (only the log calls); counts the calls made."""

    def __init__(self, log: AuditLog, *, one_call: bool = True) -> None:
        self.log, self.one_call = log, one_call
        self.calls: list[str] = []

    def tree_head(self, known_size: int) -> tuple[TreeHead, list[bytes]]:
        self.calls.append("tree_head")
        head = self.log.heads()[-1]
        proof = self.log.consistency_proof(known_size, head.size) if known_size else []
        return head, proof

    def inclusion_proof(self, entry_signature: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        self.calls.append("inclusion_proof")
        return self.log.locate(entry_signature, tree_size)

    def log_proofs(self, known_size: int, signatures: list[bytes]) -> Any:
        if not self.one_call:
            raise NotImplementedError("the launcher has no GetLogProofs")
        self.calls.append("log_proofs")
        head = self.log.heads()[-1]
        proof = self.log.consistency_proof(known_size, head.size) if known_size else []
        return head, proof, [self.log.locate(s, head.size) for s in signatures]


def _trust(tmp_path: Path, key: Ed25519PrivateKey) -> LauncherTrust:
    trust = LauncherTrust(tmp_path)
    trust.pin(key.public_key().public_bytes_raw())
    return trust


def test_one_call_gives_the_checked_head_and_the_proofs(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    log = _log(key, ["a", "b", "c"])
    mine = [e.signature for e in log.entries()][1:]
    client = ShownLog(log)

    head, proofs = _trust(tmp_path, key).latest_head_and_proofs(client, mine)  # type: ignore[arg-type]

    assert client.calls == ["log_proofs"]
    assert head == log.heads()[-1]
    assert proofs == [log.locate(s, 3) for s in mine]


def test_a_launcher_without_the_call_is_asked_for_the_head_alone(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    log = _log(key, ["a", "b"])
    client = ShownLog(log, one_call=False)

    head, proofs = _trust(tmp_path, key).latest_head_and_proofs(  # type: ignore[arg-type]
        client, [next(iter(log.entries())).signature]
    )

    assert client.calls == ["tree_head"] and head == log.heads()[-1]
    assert proofs is None  # the node asks for each proof (LogWatch._prove)


def test_a_forked_head_in_one_call_is_refused_and_kept_as_evidence(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    seen = _log(key, ["a", "b"])
    forked = _log(key, ["a", "other", "c"])  # signed by the same key, another history
    trust = _trust(tmp_path, key)
    trust.latest_head(ShownLog(seen))  # type: ignore[arg-type]

    with pytest.raises(ForkDetected):
        trust.latest_head_and_proofs(  # type: ignore[arg-type]
            ShownLog(forked), [next(iter(forked.entries())).signature]
        )

    assert trust.heads is not None and trust.heads.latest == seen.heads()[-1]
    assert (tmp_path / EVIDENCE_FILE).read_text().count("\n") == 1


class OlderLauncher(pb_grpc.LauncherServicer):  # type: ignore[misc]
    """A launcher from before ``GetLogProofs`` (gRPC answers it ``UNIMPLEMENTED``)."""

    def __init__(self, head: TreeHead) -> None:
        self.head = head

    def GetTreeHead(self, request: Any, context: Any) -> Any:
        return convert.tree_head_to_pb(self.head, [])


@pytest.mark.timeout(60)
def test_over_grpc_a_launcher_without_the_call_is_checked_the_old_way(
    tmp_path: Path, port: int
) -> None:
    key = Ed25519PrivateKey.generate()
    log = _log(key, ["a"])
    create_ca(tmp_path / "ca")
    server_tls = issue_certificate(
        tmp_path / "ca", tmp_path, instance_id="launcher", hosts=["127.0.0.1"]
    )
    server = grpc.server(futures.ThreadPoolExecutor(2))
    pb_grpc.add_LauncherServicer_to_server(OlderLauncher(log.heads()[-1]), server)
    server.add_secure_port(f"127.0.0.1:{port}", server_credentials(server_tls))
    server.start()
    tls = issue_certificate(tmp_path / "ca", tmp_path, instance_id="tube-a", hosts=[])
    client = GrpcLauncherClient(f"127.0.0.1:{port}", tls)
    mine = [next(iter(log.entries())).signature]
    try:
        with pytest.raises(NotImplementedError):
            client.log_proofs(0, mine)
        head, proofs = _trust(tmp_path / "node", key).latest_head_and_proofs(client, mine)
    finally:
        client.close()
        server.stop(None)

    assert head == log.heads()[-1] and proofs is None
