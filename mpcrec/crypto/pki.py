"""A local certificate authority and the certificates instances use for mutual TLS.

One CA signs one leaf certificate per instance. A leaf serves both as a TLS server and a TLS
client certificate (the gRPC control plane and the committee's data plane both use mutual
TLS), and names its instance twice: the subject common name is the instance id, and a SAN URI
``mpcrec://instance/<id>`` carries it in a form no host name can collide with. Peers identify
an instance by that URI (:func:`instance_id_of`) and may pin the certificate itself by its
SHA-256 fingerprint (:func:`fingerprint`).

Keys are EC P-256 (``secp256r1``): accepted by Python's ``ssl`` (OpenSSL), by gRPC's
BoringSSL and by every TLS 1.3 stack, where Ed25519 certificates are not supported by
BoringSSL's TLS for gRPC. Key files are written with mode 0600, atomically (temp file plus
``os.replace``), so a crash never leaves half a key behind.

Real deployments may point at certificates from their own CA: nothing here is needed at run
time except :func:`instance_id_of` and :func:`fingerprint`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mpcrec.crypto.key_file import check_private
from mpcrec.errors import UserError
from mpcrec.files import write_atomic

URI_PREFIX = "mpcrec://instance/"
CA_CERT = "ca.pem"
CA_KEY = "ca.key"
_INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# A leaf is both a TLS server and a TLS client (mutual TLS on both planes).
_BOTH_ENDS_OF_TLS = x509.ExtendedKeyUsage(
    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
)


@dataclass(frozen=True)
class CertPaths:
    """Where a certificate, its private key and the CA that signed it lie (PEM files)."""

    cert: Path
    key: Path
    ca: Path


def create_ca(
    directory: Path, *, common_name: str = "mpcrec local CA", days: int = 365
) -> CertPaths:
    """Create a self-signed CA in ``directory`` (``ca.pem``, ``ca.key``).

    Parameters
    ----------
    directory:
        Created if missing. Existing CA files there are refused, never overwritten.
    common_name:
        The CA's subject common name.
    days:
        Validity from now.

    Returns
    -------
    CertPaths
        ``cert`` and ``ca`` are both the CA certificate, ``key`` the CA key (mode 0600).
    """
    _check_days(days)
    directory = Path(directory)
    cert_path, key_path = directory / CA_CERT, directory / CA_KEY
    for path in (cert_path, key_path):
        if path.exists():
            raise UserError(
                f"{path} already exists", hint="use another directory or remove the old CA"
            )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_pair(cert_path, key_path, cert, key)
    return CertPaths(cert=cert_path, key=key_path, ca=cert_path)


def issue_certificate(
    ca_dir: Path,
    out_dir: Path,
    *,
    instance_id: str,
    hosts: Sequence[str],
    days: int = 365,
    valid_from: dt.datetime | None = None,
) -> CertPaths:
    """Issue an instance's leaf certificate, signed by the CA in ``ca_dir``.

    Parameters
    ----------
    ca_dir:
        A directory made by :func:`create_ca`.
    out_dir:
        Where ``<instance_id>.pem`` and ``<instance_id>.key`` (0600) are written; created if
        missing. The CA certificate is not copied: ``CertPaths.ca`` points into ``ca_dir``.
    instance_id:
        Letters, digits, ``.``, ``_``, ``-`` (at most 128). Becomes the CN and the SAN URI
        ``mpcrec://instance/<instance_id>``.
    hosts:
        IP addresses and DNS names the instance serves on (IP or DNS SANs).
    days:
        Validity in days from ``valid_from``; a leaf outliving its CA will not verify.
    valid_from:
        Start of validity (UTC; default now). A date far enough back makes an expired
        certificate, which tests use to check that peers refuse it.

    Returns
    -------
    CertPaths
        The leaf certificate, its key and the CA certificate.
    """
    _check_days(days)
    _check_instance_id(instance_id)
    ca_cert, ca_key = _load_ca(Path(ca_dir))
    key = ec.generate_private_key(ec.SECP256R1())
    now = valid_from if valid_from is not None else _now()
    cert = _leaf(instance_id, key, hosts, now, days, ca_cert, ca_key)
    out_dir = Path(out_dir)
    cert_path, key_path = out_dir / f"{instance_id}.pem", out_dir / f"{instance_id}.key"
    _write_pair(cert_path, key_path, cert, key)
    return CertPaths(cert=cert_path, key=key_path, ca=Path(ca_dir) / CA_CERT)


def _leaf(
    instance_id: str,
    key: ec.EllipticCurvePrivateKey,
    hosts: Sequence[str],
    now: dt.datetime,
    days: int,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    """The leaf certificate of :func:`issue_certificate`, signed by the CA."""
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(URI_PREFIX + instance_id)]
    sans.extend(_host_name(host) for host in hosts)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, instance_id)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(_BOTH_ENDS_OF_TLS, critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def _check_instance_id(instance_id: str) -> None:
    if not _INSTANCE_ID.match(instance_id):
        raise UserError(
            f"invalid instance id {instance_id!r}",
            hint="use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """A CA signs certificates (and CRLs); a leaf signs and agrees keys (ECDHE in TLS)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write_pair(
    cert_path: Path, key_path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    """The key (0600) first, then the certificate (0644), each atomically."""
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(key_path, _key_pem(key), mode=0o600)
    write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def instance_id_of(cert_pem: bytes) -> str:
    """Return the instance id a certificate names in its ``mpcrec://instance/`` SAN URI.

    Raises
    ------
    UserError
        If the bytes are not a PEM certificate, or it names no instance (or several).
    """
    return _instance_id(_load_cert(cert_pem))


def instance_id_of_der(cert_der: bytes) -> str:
    """:func:`instance_id_of` for a DER certificate (what ``ssl.getpeercert(True)`` gives)."""
    try:
        cert = x509.load_der_x509_certificate(cert_der)
    except ValueError as err:
        raise UserError(f"not a DER certificate: {err}") from err
    return _instance_id(cert)


def fingerprint(cert_pem_or_der: bytes) -> str:
    """Return the SHA-256 fingerprint of a certificate (PEM or DER) as lowercase hex."""
    if cert_pem_or_der.lstrip().startswith(b"-----BEGIN"):
        der = _load_cert(cert_pem_or_der).public_bytes(serialization.Encoding.DER)
    else:
        der = cert_pem_or_der
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize().hex()


def not_valid_after(cert_pem: bytes) -> dt.datetime:
    """Return when a PEM certificate expires (UTC, timezone-aware)."""
    return _load_cert(cert_pem).not_valid_after_utc


def _instance_id(cert: x509.Certificate) -> str:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = x509.SubjectAlternativeName([])
    ids = [
        uri[len(URI_PREFIX) :]
        for uri in sans.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(URI_PREFIX)
    ]
    if len(ids) != 1:
        raise UserError(
            f"certificate {cert.subject.rfc4514_string()!r} names {len(ids)} mpcrec instances "
            "in its SAN URIs, expected exactly 1",
            hint="issue instance certificates with `mpcrec pki` or add a SAN URI "
            f"{URI_PREFIX}<instance id>",
        )
    return ids[0]


def _load_cert(cert_pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError as err:
        raise UserError(f"not a PEM certificate: {err}") from err


def _load_ca(ca_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = ca_dir / CA_CERT, ca_dir / CA_KEY
    for path in (cert_path, key_path):
        if not path.is_file():
            raise UserError(f"{path} not found", hint="create the CA first (create_ca)")
    cert = _load_cert(cert_path.read_bytes())
    check_private(key_path)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as err:
        raise UserError(f"{key_path}: not an unencrypted PEM private key: {err}") from err
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UserError(f"{key_path}: expected an EC key, got {type(key).__name__}")
    return cert, key


def _host_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or any(c.isspace() or c in "/:" for c in host):
        raise UserError(f"invalid host {host!r}", hint="give an IP address or a DNS name")
    return x509.DNSName(host)


def _check_days(days: int) -> None:
    if days < 1:
        raise UserError(f"certificate validity must be at least 1 day, got {days}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
