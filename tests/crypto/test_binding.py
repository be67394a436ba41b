"""Key bindings and certificate checks: an instance's mpcrec keys, vouched for by the CA."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mpcrec.crypto.binding import load_tls_identity, sign_binding, statement, verify_binding
from mpcrec.crypto.chain import check_instance_certificate
from mpcrec.crypto.csr import create_request, issue_from_request, read_request
from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.pki import CertPaths, create_ca, instance_id_of, issue_certificate
from mpcrec.errors import ConfigError, ProtocolError, UserError


@pytest.fixture
def ca(tmp_path: Path) -> CertPaths:
    return create_ca(tmp_path / "ca")


def _bound(paths: CertPaths, instance_id: str, keys: NodeKeys) -> tuple[bytes, bytes]:
    """The instance's certificate (DER) and its binding of ``keys``."""
    cert, tls_key = load_tls_identity(paths.cert, paths.key)
    return cert, sign_binding(tls_key, instance_id, keys.signing_public, keys.sealing_public)


def _now() -> dt.datetime:
    """Now, read when a test runs (a module-level time goes stale on a loaded machine:
    certificates made minutes after import are not yet valid at it)."""
    return dt.datetime.now(dt.UTC)


def _verify(
    cert: bytes, binding: bytes, ca_pem: bytes, instance_id: str, keys: NodeKeys, **kw: object
) -> None:
    verify_binding(
        cert,
        binding,
        ca_pem=ca_pem,
        instance_id=instance_id,
        signing_key=keys.signing_public,
        sealing_key=keys.sealing_public,
        at=kw.get("at", _now()),  # type: ignore[arg-type]
    )


def test_a_binding_verifies_for_its_instance_and_keys(ca: CertPaths, tmp_path: Path) -> None:
    keys = NodeKeys.load_or_create(tmp_path / "keys")
    cert, binding = _bound(
        issue_certificate(ca.key.parent, tmp_path, instance_id="a", hosts=[]), "a", keys
    )
    _verify(cert, binding, ca.cert.read_bytes(), "a", keys)


def test_a_certificate_from_another_ca_is_refused(ca: CertPaths, tmp_path: Path) -> None:
    keys = NodeKeys.load_or_create(tmp_path / "keys")
    rogue = create_ca(tmp_path / "rogue")  # same name as the real CA, another key
    cert, binding = _bound(
        issue_certificate(rogue.key.parent, tmp_path / "r", instance_id="a", hosts=[]), "a", keys
    )
    with pytest.raises(ProtocolError, match="not signed by the federation CA"):
        _verify(cert, binding, ca.cert.read_bytes(), "a", keys)


def test_a_certificate_for_another_instance_is_refused(ca: CertPaths, tmp_path: Path) -> None:
    keys = NodeKeys.load_or_create(tmp_path / "keys")
    cert, _ = _bound(
        issue_certificate(ca.key.parent, tmp_path, instance_id="mallory", hosts=[]), "mallory", keys
    )
    _, tls_key = load_tls_identity(tmp_path / "mallory.pem", tmp_path / "mallory.key")
    binding = sign_binding(tls_key, "a", keys.signing_public, keys.sealing_public)
    with pytest.raises(ProtocolError, match="names instance 'mallory', not 'a'"):
        _verify(cert, binding, ca.cert.read_bytes(), "a", keys)


def test_a_binding_over_other_keys_is_refused(ca: CertPaths, tmp_path: Path) -> None:
    keys = NodeKeys.load_or_create(tmp_path / "keys")
    substitute = NodeKeys.load_or_create(tmp_path / "substitute")
    cert, binding = _bound(
        issue_certificate(ca.key.parent, tmp_path, instance_id="a", hosts=[]), "a", keys
    )
    with pytest.raises(ProtocolError, match="does not sign these keys"):
        _verify(cert, binding, ca.cert.read_bytes(), "a", substitute)
    mixed = NodeKeys.load_or_create(tmp_path / "keys")  # the real signing key, another sealing key
    with pytest.raises(ProtocolError, match="does not sign these keys"):
        verify_binding(
            cert,
            binding,
            ca_pem=ca.cert.read_bytes(),
            instance_id="a",
            signing_key=mixed.signing_public,
            sealing_key=substitute.sealing_public,
            at=_now(),
        )


def test_an_expired_certificate_is_refused_unless_time_is_not_checked(
    ca: CertPaths, tmp_path: Path
) -> None:
    keys = NodeKeys.load_or_create(tmp_path / "keys")
    old = _now() - dt.timedelta(days=30)
    paths = issue_certificate(
        ca.key.parent, tmp_path, instance_id="a", hosts=[], days=1, valid_from=old
    )
    cert, binding = _bound(paths, "a", keys)
    with pytest.raises(ProtocolError, match="not valid at"):
        _verify(cert, binding, ca.cert.read_bytes(), "a", keys)
    _verify(cert, binding, ca.cert.read_bytes(), "a", keys, at=None)


def test_a_missing_certificate_or_binding_is_refused(ca: CertPaths, tmp_path: Path) -> None:
    keys = NodeKeys.load_or_create(tmp_path / "keys")
    cert, binding = _bound(
        issue_certificate(ca.key.parent, tmp_path, instance_id="a", hosts=[]), "a", keys
    )
    with pytest.raises(ProtocolError, match="no certificate"):
        _verify(b"", binding, ca.cert.read_bytes(), "a", keys)
    with pytest.raises(ProtocolError, match="no key binding"):
        _verify(cert, b"", ca.cert.read_bytes(), "a", keys)
    with pytest.raises(ProtocolError, match="not a PEM or DER"):
        _verify(b"junk", binding, ca.cert.read_bytes(), "a", keys)


def test_a_self_signed_leaf_or_a_ca_as_leaf_is_refused(ca: CertPaths, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a")])
    forged = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.load_pem_x509_certificate(ca.cert.read_bytes()).subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(_now() - dt.timedelta(days=1))
        .not_valid_after(_now() + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier("mpcrec://instance/a")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())  # the CA's name, not its signature
    )
    der = forged.public_bytes(serialization.Encoding.DER)
    with pytest.raises(ProtocolError, match="not signed by the federation CA"):
        check_instance_certificate(der, ca.cert.read_bytes(), instance_id="a", at=_now())
    with pytest.raises(ProtocolError, match="names 0"):
        check_instance_certificate(
            ca.cert.read_bytes(), ca.cert.read_bytes(), instance_id="a", at=_now()
        )


def test_the_statement_is_domain_separated_and_names_everything() -> None:
    one = statement("a", b"\x01" * 32, b"\x02" * 32)
    assert one.startswith(b"mpcrec key binding v1\x00")
    assert one != statement("a", b"\x02" * 32, b"\x01" * 32)
    assert one != statement("ab", b"\x01" * 32, b"\x02" * 32)
    with pytest.raises(ProtocolError, match="expected 32"):
        statement("a", b"\x01" * 31, b"\x02" * 32)


def test_a_tls_key_that_is_not_the_certificates_is_a_config_error(
    ca: CertPaths, tmp_path: Path
) -> None:
    a = issue_certificate(ca.key.parent, tmp_path, instance_id="a", hosts=[])
    b = issue_certificate(ca.key.parent, tmp_path, instance_id="b", hosts=[])
    with pytest.raises(ConfigError, match="not the private key"):
        load_tls_identity(a.cert, b.key)
    with pytest.raises(ConfigError, match="cannot read"):
        load_tls_identity(tmp_path / "none.pem", a.key)


def test_issuing_from_a_request_never_needs_the_instance_key(ca: CertPaths, tmp_path: Path) -> None:
    instance_dir, ca_side = tmp_path / "instance", tmp_path / "ca-side"
    request = create_request(instance_dir, instance_id="tube-a", hosts=["127.0.0.1", "a.example"])
    assert (instance_dir / "tube-a.key").stat().st_mode & 0o777 == 0o600
    ca_side.mkdir()
    (ca_side / "tube-a.csr").write_bytes(request.path.read_bytes())  # only the request travels
    cert_path, asked = issue_from_request(ca.key.parent, ca_side / "tube-a.csr", ca_side)
    assert asked.instance_id == "tube-a" and set(asked.hosts) == {"127.0.0.1", "a.example"}
    assert instance_id_of(cert_path.read_bytes()) == "tube-a"
    assert not (ca_side / "tube-a.key").exists()
    keys = NodeKeys.load_or_create(tmp_path / "keys")
    cert, binding = _bound(
        CertPaths(cert_path, instance_dir / "tube-a.key", ca.cert), "tube-a", keys
    )
    _verify(cert, binding, ca.cert.read_bytes(), "tube-a", keys)
    with pytest.raises(UserError, match="already exists"):
        create_request(instance_dir, instance_id="tube-a", hosts=[])


def test_a_request_with_a_bad_signature_or_no_instance_is_refused(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "a")]))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "a.csr"
    path.write_bytes(request.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(UserError, match="names 0 instances"):
        read_request(path)
    path.write_bytes(b"not a request")
    with pytest.raises(UserError, match="not a PEM certificate signing request"):
        read_request(path)
