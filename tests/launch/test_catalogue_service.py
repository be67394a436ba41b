"""The Catalogue service over real sockets and mutual TLS: exports in, signed versions out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.catalogue import LauncherCatalogue
from launch.launcher import Launcher, Schedule
from launch.memory_store import InMemoryStore
from launch.round import RoundPolicy
from launch.service import serve
from mpcrec.audit.checks import check_catalogue
from mpcrec.audit.entries import Kind
from mpcrec.audit.history import replay
from mpcrec.audit.log import AuditLog
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.data.catalogue import VideoRecord
from mpcrec.data.catalogue_merge import InstanceExport, encode_export
from mpcrec.federation.refusals import LauncherError
from mpcrec.federation.spec import FederationSpec
from mpcrec.node.catalogue_client import GrpcCatalogueClient
from mpcrec.node.catalogue_sync import CatalogueSync
from mpcrec.node.grpc_client import GrpcLauncherClient
from tests.launch.instances import register_instances

pytestmark = pytest.mark.timeout(60)
NAMES = ("a", "b", "c")


@pytest.fixture
def world(tmp_path: Path, port: int) -> Iterator[dict[str, Any]]:
    create_ca(tmp_path / "ca")
    server_tls = issue_certificate(
        tmp_path / "ca", tmp_path, instance_id="launcher", hosts=["127.0.0.1"]
    )
    key = Ed25519PrivateKey.generate()
    audit = AuditLog(tmp_path / "launcher.sqlite", launcher_key=key)
    launcher = Launcher(
        InMemoryStore(),
        policy=RoundPolicy(committee_size=3, min_contributors=3, cooldown=1),
        spec=FederationSpec(n_items=3, dim=2, aggregation="plaintext"),
        schedule=Schedule(min_instances=3, rounds=1),
        audit=audit,
        launcher_key=key.public_key().public_bytes_raw(),
        catalogue=LauncherCatalogue(tmp_path / "catalogue", audit),
    )
    server = serve(launcher, f"127.0.0.1:{port}", server_tls)
    tls = {
        n: issue_certificate(tmp_path / "ca", tmp_path, instance_id=n, hosts=[])
        for n in [*NAMES, "stranger"]
    }
    clients = {n: GrpcCatalogueClient(f"127.0.0.1:{port}", t) for n, t in tls.items()}
    try:
        yield {"launcher": launcher, "clients": clients, "tls": tls, "address": f"127.0.0.1:{port}",
               "key": key, "audit": audit, "tmp": tmp_path}  # fmt: skip
    finally:
        for c in clients.values():
            c.close()
        server.stop(grace=None)


def test_exports_become_a_signed_version_when_a_round_opens(world: dict[str, Any]) -> None:
    launcher, clients = world["launcher"], world["clients"]
    register_instances(launcher, world["tmp"], NAMES)
    for n in NAMES:
        videos = tuple(
            VideoRecord(f"https://{n}/videos/watch/{k}", name=f"{n}{k}") for k in range(2)
        )
        # the instance field is the caller's, whatever the bytes claim
        export = InstanceExport("someone-else", videos, (f"https://remote/videos/watch/{n}",))
        clients[n].submit(encode_export(export))
    with pytest.raises(LauncherError):
        clients["stranger"].submit(encode_export(InstanceExport("stranger")))
    # Execute: the first round opens
    launcher.advance()
    # Assert: version 1 is signed before the round_open that names it
    log = list(world["audit"].entries())
    kinds = [e.kind for e in log]
    assert kinds.index(Kind.CATALOGUE) < kinds.index(Kind.ROUND_OPEN)
    opened = log[kinds.index(Kind.ROUND_OPEN)]
    # the model grows to the catalogue: 3 configured rows, 9 catalogue rows
    assert (opened.payload["catalogue_version"], opened.payload["rows"]) == (1, 9)
    rows = list(launcher.catalogue.book.records)
    assert [r.instance for r in rows[:6]] == ["a", "a", "b", "b", "c", "c"]
    history, _ = replay(log)
    assert check_catalogue(history) == []
    # a node fetches it over the service and verifies it against the signed entry
    rounds = GrpcLauncherClient(world["address"], world["tls"]["a"])
    try:
        ann = rounds.current_round()
    finally:
        rounds.close()
    assert ann is not None and (ann.catalogue_version, ann.catalogue_rows) == (1, 9)
    sync = CatalogueSync(world["tmp"] / "node-a")
    sync.check(ann, clients["a"], world["key"].public_key().public_bytes_raw())
    assert sync.index.row("https://remote/videos/watch/b") == 7
    with pytest.raises(LauncherError):
        list(clients["stranger"].fetch(0))


def test_a_restart_keeps_signed_versions_and_sets_aside_an_unsigned_one(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    audit = AuditLog(tmp_path / "launcher.sqlite", launcher_key=key)
    catalogue = LauncherCatalogue(tmp_path / "catalogue", audit)
    catalogue.submit(InstanceExport("a", (VideoRecord("https://a/1"),)))
    header = catalogue.publish(1)
    assert header is not None
    # the launcher stopped after writing version 2's file, before its entry was committed
    catalogue.submit(InstanceExport("a", (VideoRecord("https://a/1"), VideoRecord("https://a/2"))))
    unsigned = catalogue.book.merge(list(catalogue.pending.values()))
    assert unsigned is not None
    catalogue.files.append(unsigned, catalogue.book.tip)
    again = LauncherCatalogue(
        tmp_path / "catalogue", AuditLog(tmp_path / "launcher.sqlite", launcher_key=key)
    )
    assert again.files.latest() == 1 and again.book.tip.hash == header.hash
    assert (tmp_path / "catalogue" / "v00000002.unsigned").exists()
    assert [v for v, _, _ in again.since(0)] == [1]


def test_a_version_file_that_differs_from_its_signed_entry_stops_the_launcher(
    tmp_path: Path,
) -> None:
    from mpcrec.data.catalogue import encode_diff, make_diff
    from mpcrec.data.catalogue_store import version_file
    from mpcrec.errors import ProtocolError

    key = Ed25519PrivateKey.generate()
    audit = AuditLog(tmp_path / "launcher.sqlite", launcher_key=key)
    catalogue = LauncherCatalogue(tmp_path / "catalogue", audit)
    catalogue.submit(InstanceExport("a", (VideoRecord("https://a/1"),)))
    catalogue.publish(1)
    other = make_diff(version=1, previous=bytes(32), first_row=0, retired_before=0,
                      records=[VideoRecord("https://evil/1")], new_retired=[])  # fmt: skip
    version_file(tmp_path / "catalogue", 1).write_bytes(encode_diff(other))
    with pytest.raises(ProtocolError, match="differs from its signed log entry"):
        LauncherCatalogue(
            tmp_path / "catalogue", AuditLog(tmp_path / "launcher.sqlite", launcher_key=key)
        )
