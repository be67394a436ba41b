"""Whether a certificate is the federation CA's certificate of a given instance.

Whoever uses an instance's mpcrec key checks the certificate that vouches for it
(:mod:`mpcrec.crypto.binding`) here first, with the federation's CA certificate
(``tls.ca`` in a node's config): one level (the CA signs every instance certificate, as
``mpcrec pki`` does), the checks RFC 5280 path validation makes for such a chain (issuer
signature, validity periods, basic constraints and key usage of both, the leaf's extended
key usage), and the instance id the leaf names. No revocation lists: see
docs/operations.md ("Federation CA") for what that leaves to the validity period.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from mpcrec.crypto.pki import instance_id_in, load_certificate
from mpcrec.errors import ProtocolError, UserError


def check_instance_certificate(
    cert_bytes: bytes, ca_pem: bytes, *, instance_id: str, at: dt.datetime | None
) -> ec.EllipticCurvePublicKey:
    """Check that a leaf certificate is the federation CA's for ``instance_id``; return its key.

    The leaf must be signed directly by the CA (no intermediates), name exactly
    ``instance_id`` in its SAN URI, not be a CA, allow client authentication (EKU) and
    digital signatures, and carry an EC P-256 key. The CA must be a CA allowed to sign
    certificates. With ``at`` both must be valid then; ``None`` skips the validity periods
    (the auditor, who checks a log long after the fact, does that; whoever uses a key passes
    the current time).

    Raises
    ------
    ProtocolError
        With the reason, for any check that fails (or bytes that are no certificate).
    """
    try:
        cert, ca = load_certificate(cert_bytes), load_certificate(ca_pem)
        named = instance_id_in(cert)
    except UserError as err:
        raise ProtocolError(err.message) from err
    _check_ca(ca, at)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as err:
        raise ProtocolError(f"certificate of {named!r} is not signed by the federation CA") from err
    if named != instance_id:
        raise ProtocolError(f"certificate names instance {named!r}, not {instance_id!r}")
    _check_leaf(cert, named, at)
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ProtocolError(f"certificate of {named!r} does not carry an EC P-256 key")
    return key


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> object | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _check_period(cert: x509.Certificate, who: str, at: dt.datetime | None) -> None:
    if at is not None and not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise ProtocolError(
            f"{who} is not valid at {at.isoformat()} (valid "
            f"{cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()})"
        )


def _check_ca(ca: x509.Certificate, at: dt.datetime | None) -> None:
    constraints = _extension(ca, x509.BasicConstraints)
    usage = _extension(ca, x509.KeyUsage)
    if not isinstance(constraints, x509.BasicConstraints) or not constraints.ca:
        raise ProtocolError("the federation CA certificate is not a CA (basic constraints)")
    if isinstance(usage, x509.KeyUsage) and not usage.key_cert_sign:
        raise ProtocolError("the federation CA certificate may not sign certificates")
    _check_period(ca, "the federation CA certificate", at)


def _check_leaf(cert: x509.Certificate, who: str, at: dt.datetime | None) -> None:
    constraints = _extension(cert, x509.BasicConstraints)
    if isinstance(constraints, x509.BasicConstraints) and constraints.ca:
        raise ProtocolError(f"certificate of {who!r} is a CA certificate, not an instance's")
    usage = _extension(cert, x509.KeyUsage)
    if isinstance(usage, x509.KeyUsage) and not usage.digital_signature:
        raise ProtocolError(f"certificate of {who!r} does not allow digital signatures")
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if not isinstance(eku, x509.ExtendedKeyUsage) or ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        raise ProtocolError(f"certificate of {who!r} does not allow client authentication")
    _check_period(cert, f"certificate of {who!r}", at)
