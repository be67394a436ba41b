"""The local CA and instance certificates: files, names, and real TLS handshakes with them."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import stat
import threading
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from mpcrec.crypto.pki import (
    CertPaths,
    create_ca,
    fingerprint,
    instance_id_of,
    instance_id_of_der,
    issue_certificate,
    not_valid_after,
)
from mpcrec.errors import UserError


@pytest.fixture
def ca(tmp_path: Path) -> CertPaths:
    return create_ca(tmp_path / "ca")


def _server_context(paths: CertPaths) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(paths.cert, paths.key)
    ctx.load_verify_locations(paths.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _client_context(paths: CertPaths) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(paths.cert, paths.key)
    ctx.load_verify_locations(paths.ca)
    return ctx


def _handshake(server: CertPaths, client: CertPaths) -> tuple[bytes | None, bytes | None]:
    """Mutual TLS over a socket pair; returns (server's view, client's view) of the peer."""
    a, b = socket.socketpair()
    seen: dict[str, bytes | None] = {}
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with _server_context(server).wrap_socket(a, server_side=True) as tls:
                seen["server"] = tls.getpeercert(binary_form=True)
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as err:
            errors.append(err)
            a.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with _client_context(client).wrap_socket(b, server_hostname="127.0.0.1") as tls:
            seen["client"] = tls.getpeercert(binary_form=True)
            assert tls.recv(2) == b"ok"
    finally:
        thread.join(timeout=10)
    if errors:
        raise errors[0]
    return seen["server"], seen["client"]


def test_ca_files_and_modes(ca: CertPaths) -> None:
    assert ca.cert == ca.ca
    assert stat.S_IMODE(ca.key.stat().st_mode) == 0o600
    assert ca.cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert not list(ca.cert.parent.glob(".*.tmp"))


def test_existing_ca_is_never_overwritten(ca: CertPaths) -> None:
    before = ca.key.read_bytes()
    with pytest.raises(UserError, match="already exists"):
        create_ca(ca.cert.parent)
    assert ca.key.read_bytes() == before


def test_leaf_names_its_instance(ca: CertPaths, tmp_path: Path) -> None:
    leaf = issue_certificate(
        ca.cert.parent, tmp_path / "a", instance_id="inst-07", hosts=["127.0.0.1", "node7.test"]
    )
    pem = leaf.cert.read_bytes()
    assert instance_id_of(pem) == "inst-07"
    assert leaf.ca == ca.cert
    assert stat.S_IMODE(leaf.key.stat().st_mode) == 0o600
    assert len(fingerprint(pem)) == 64
    assert not_valid_after(pem) > dt.datetime.now(dt.UTC) + dt.timedelta(days=364)


def test_fingerprint_is_the_same_for_pem_and_der(ca: CertPaths, tmp_path: Path) -> None:
    leaf = issue_certificate(ca.cert.parent, tmp_path, instance_id="x", hosts=["127.0.0.1"])
    der = ssl.PEM_cert_to_DER_cert(leaf.cert.read_text())
    assert fingerprint(der) == fingerprint(leaf.cert.read_bytes())
    assert instance_id_of_der(der) == "x"


def test_ca_certificate_names_no_instance(ca: CertPaths) -> None:
    with pytest.raises(UserError, match="names 0 mpcrec instances"):
        instance_id_of(ca.cert.read_bytes())


@pytest.mark.parametrize("bad", ["", "a/b", "-x", "a b", "x" * 129])
def test_invalid_instance_id_is_refused(ca: CertPaths, tmp_path: Path, bad: str) -> None:
    with pytest.raises(UserError, match="invalid instance id"):
        issue_certificate(ca.cert.parent, tmp_path, instance_id=bad, hosts=[])


def test_missing_ca_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        issue_certificate(tmp_path / "nope", tmp_path, instance_id="a", hosts=[])


def test_mutual_tls_handshake_with_python_ssl(ca: CertPaths, tmp_path: Path) -> None:
    a = issue_certificate(ca.cert.parent, tmp_path, instance_id="a", hosts=["127.0.0.1"])
    b = issue_certificate(ca.cert.parent, tmp_path, instance_id="b", hosts=["127.0.0.1"])
    server_view, client_view = _handshake(a, b)
    assert server_view is not None and instance_id_of_der(server_view) == "b"
    assert client_view is not None and instance_id_of_der(client_view) == "a"


def test_certificate_from_another_ca_is_refused(ca: CertPaths, tmp_path: Path) -> None:
    other = create_ca(tmp_path / "other-ca")
    a = issue_certificate(ca.cert.parent, tmp_path / "a", instance_id="a", hosts=["127.0.0.1"])
    rogue = issue_certificate(
        other.cert.parent, tmp_path / "r", instance_id="b", hosts=["127.0.0.1"]
    )
    rogue = CertPaths(cert=rogue.cert, key=rogue.key, ca=ca.cert)  # trusts the right CA
    with pytest.raises((ssl.SSLError, OSError)):
        _handshake(a, rogue)


def test_expired_certificate_is_refused(ca: CertPaths, tmp_path: Path) -> None:
    a = issue_certificate(ca.cert.parent, tmp_path / "a", instance_id="a", hosts=["127.0.0.1"])
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    expired = issue_certificate(
        ca.cert.parent, tmp_path / "e", instance_id="e", hosts=["127.0.0.1"], days=1, valid_from=old
    )
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        _handshake(expired, a)


@pytest.mark.timeout(60)
def test_grpc_mutual_tls_accepts_the_certificates(ca: CertPaths, tmp_path: Path, port: int) -> None:
    """gRPC's BoringSSL takes the P-256 certificates for both server and client auth."""
    server_cert = issue_certificate(
        ca.cert.parent, tmp_path / "s", instance_id="launcher", hosts=["127.0.0.1", "localhost"]
    )
    client_cert = issue_certificate(ca.cert.parent, tmp_path / "c", instance_id="node-1", hosts=[])
    peers: list[str] = []

    def echo(request: bytes, context: grpc.ServicerContext) -> bytes:
        pem = context.auth_context()["x509_pem_cert"][0]
        peers.append(instance_id_of(pem))
        return request

    handler = grpc.method_handlers_generic_handler(
        "test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), handlers=[handler])
    creds = grpc.ssl_server_credentials(
        [(server_cert.key.read_bytes(), server_cert.cert.read_bytes())],
        root_certificates=ca.cert.read_bytes(),
        require_client_auth=True,
    )
    server.add_secure_port(f"127.0.0.1:{port}", creds)
    server.start()
    try:
        channel_creds = grpc.ssl_channel_credentials(
            root_certificates=ca.cert.read_bytes(),
            private_key=client_cert.key.read_bytes(),
            certificate_chain=client_cert.cert.read_bytes(),
        )
        with grpc.secure_channel(f"127.0.0.1:{port}", channel_creds) as channel:
            call = channel.unary_unary("/test.Echo/Echo")
            assert call(b"hello", timeout=20) == b"hello"
    finally:
        server.stop(grace=None)
    assert peers == ["node-1"]
