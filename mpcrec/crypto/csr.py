"""Certificates issued from a signing request: the CA holder never sees an instance's key.

The instance makes its TLS key and a certificate signing request (PKCS#10) naming its id
(SAN URI ``mpcrec://instance/<id>``) and host names (:func:`create_request`); it sends the
request (public) to whoever holds the federation CA's key, who checks it and issues the
certificate (:func:`issue_from_request`), in the same shape :func:`mpcrec.crypto.pki.
issue_certificate` makes. docs/operations.md ("Federation CA") describes the ceremony.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mpcrec.crypto import pki
from mpcrec.errors import UserError
from mpcrec.files import write_atomic


@dataclass(frozen=True)
class SigningRequest:
    """What a request asks for: the instance id and hosts, with the request's PEM path."""

    path: Path
    instance_id: str
    hosts: tuple[str, ...]


def create_request(out_dir: Path, *, instance_id: str, hosts: Sequence[str]) -> SigningRequest:
    """Write ``<id>.key`` (0600, EC P-256) and ``<id>.csr`` in ``out_dir``.

    An existing key is refused, never overwritten (a new key needs a new certificate)."""
    pki.check_instance_id(instance_id)
    out_dir = Path(out_dir)
    key_path, csr_path = out_dir / f"{instance_id}.key", out_dir / f"{instance_id}.csr"
    if key_path.exists():
        raise UserError(f"{key_path} already exists", hint="keep it, or remove it to start over")
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(pki.URI_PREFIX + instance_id)]
    sans += [pki.host_name(host) for host in hosts]
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, instance_id)]))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    pem = serialization.PrivateFormat.PKCS8
    key_pem = key.private_bytes(serialization.Encoding.PEM, pem, serialization.NoEncryption())
    write_atomic(key_path, key_pem, mode=0o600)
    write_atomic(csr_path, request.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return SigningRequest(csr_path, instance_id, tuple(hosts))


def read_request(path: Path) -> tuple[x509.CertificateSigningRequest, SigningRequest]:
    """Parse and check a request: its own signature, one instance id, hosts."""
    try:
        request = x509.load_pem_x509_csr(Path(path).read_bytes())
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: not a PEM certificate signing request: {err}") from err
    if not request.is_signature_valid:
        raise UserError(f"{path}: the request's signature does not verify")
    key = request.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise UserError(f"{path}: the request's key is not EC P-256")
    try:
        sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = x509.SubjectAlternativeName([])
    ids = [
        uri[len(pki.URI_PREFIX) :]
        for uri in sans.get_values_for_type(x509.UniformResourceIdentifier)
        if uri.startswith(pki.URI_PREFIX)
    ]
    if len(ids) != 1:
        raise UserError(
            f"{path}: the request names {len(ids)} instances, expected 1",
            hint="make requests with `mpcrec pki csr`",
        )
    pki.check_instance_id(ids[0])
    hosts = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    hosts += sans.get_values_for_type(x509.DNSName)
    return request, SigningRequest(Path(path), ids[0], tuple(hosts))


def issue_from_request(
    ca_dir: Path, csr_path: Path, out_dir: Path, *, days: int = 365
) -> tuple[Path, SigningRequest]:
    """Issue ``<out_dir>/<id>.pem`` for the request at ``csr_path``, signed by the CA in
    ``ca_dir``; returns the certificate's path and what the request asked for."""
    pki.check_days(days)
    request, asked = read_request(csr_path)
    ca_cert, ca_key = pki.load_ca(Path(ca_dir))
    key = request.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)  # read_request checked it
    cert = pki.sign_leaf(asked.instance_id, key, asked.hosts, pki.now_utc(), days, ca_cert, ca_key)
    out = Path(out_dir) / f"{asked.instance_id}.pem"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return out, asked
