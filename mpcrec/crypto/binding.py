"""Key bindings: an instance's TLS certificate vouches for its mpcrec keys.

An instance has two kinds of keys: its TLS identity (an EC P-256 key whose certificate the
federation CA signs, naming the instance) and its mpcrec keys (an Ed25519 signing key for
envelopes and log entries, an X25519 sealing key shares are sealed to;
:mod:`mpcrec.crypto.keys`). The launcher relays the mpcrec keys; a launcher that announced
keys of its own would read every update and forge contributions. So the instance signs a
*key binding* with its TLS key (ECDSA-SHA256 over :func:`statement`), and whoever uses an
mpcrec key verifies first (:func:`verify_binding`) that the certificate chains to the CA,
names the instance, and signed exactly these two keys.

The statement is domain separated and versioned::

    b"mpcrec key binding v1\\x00" || u16 len(id) || id (UTF-8)
        || Ed25519 signing key (32) || X25519 sealing key (32)

The binding itself is the DER ECDSA signature; the verifier rebuilds the statement from the
keys it is about to use, so a binding over other keys (or another instance) fails.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mpcrec.crypto.chain import check_instance_certificate
from mpcrec.crypto.pki import instance_id_in, load_certificate
from mpcrec.errors import ConfigError, ProtocolError, UserError

BINDING_DOMAIN = b"mpcrec key binding v1\x00"
KEY_BYTES = 32


def statement(instance_id: str, signing_key: bytes, sealing_key: bytes) -> bytes:
    """The bytes a key binding signs (see the module docstring)."""
    name = instance_id.encode("utf-8")
    if len(signing_key) != KEY_BYTES or len(sealing_key) != KEY_BYTES:
        raise ProtocolError(
            f"{instance_id}: keys of {len(signing_key)} and {len(sealing_key)} bytes, "
            f"expected {KEY_BYTES} each (raw Ed25519 and X25519)"
        )
    return BINDING_DOMAIN + len(name).to_bytes(2, "big") + name + signing_key + sealing_key


def sign_binding(
    tls_key: ec.EllipticCurvePrivateKey, instance_id: str, signing_key: bytes, sealing_key: bytes
) -> bytes:
    """The key binding of ``instance_id``'s two keys, signed with its TLS private key."""
    return tls_key.sign(statement(instance_id, signing_key, sealing_key), ec.ECDSA(hashes.SHA256()))


def verify_binding(
    certificate: bytes,
    binding: bytes,
    *,
    ca_pem: bytes,
    instance_id: str,
    signing_key: bytes,
    sealing_key: bytes,
    at: dt.datetime | None,
) -> None:
    """Check that ``certificate`` (PEM or DER) is the CA's for ``instance_id`` and that
    ``binding`` is its key's signature over exactly ``signing_key`` and ``sealing_key``.

    ``at``: when the certificates must be valid (``None``: not checked; see
    :func:`mpcrec.crypto.chain.check_instance_certificate`).

    Raises
    ------
    ProtocolError
        Naming the instance and the reason (no certificate, no binding, another CA, another
        instance, expired, a signature over other keys).
    """
    if not certificate or not binding:
        missing = "certificate" if not certificate else "key binding"
        raise ProtocolError(f"{instance_id}: no {missing} for its keys")
    key = check_instance_certificate(certificate, ca_pem, instance_id=instance_id, at=at)
    _verify_under(key, binding, instance_id, signing_key, sealing_key)


def check_consistent(
    certificate: bytes, binding: bytes, *, instance_id: str, signing_key: bytes, sealing_key: bytes
) -> None:
    """The certificate names ``instance_id`` and ``binding`` verifies under its key; no CA.

    What a launcher checks at registration to turn away a misconfigured node early. It
    vouches for nothing: only :func:`verify_binding`, with the federation CA, does.
    """
    try:
        cert = load_certificate(certificate)
        named = instance_id_in(cert)
    except UserError as err:
        raise ProtocolError(f"{instance_id}: {err.message}") from err
    key = cert.public_key()
    if named != instance_id or not isinstance(key, ec.EllipticCurvePublicKey):
        raise ProtocolError(f"{instance_id}: the certificate names {named!r} (or is not EC)")
    _verify_under(key, binding, instance_id, signing_key, sealing_key)


def _verify_under(
    key: ec.EllipticCurvePublicKey,
    binding: bytes,
    instance_id: str,
    signing_key: bytes,
    sealing_key: bytes,
) -> None:
    signed = statement(instance_id, signing_key, sealing_key)
    try:
        key.verify(binding, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as err:
        raise ProtocolError(
            f"{instance_id}: the key binding does not sign these keys under its certificate"
        ) from err


def load_tls_identity(cert_path: Path, key_path: Path) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """An instance's own certificate (DER) and TLS private key, checked to belong together.

    Raises
    ------
    ConfigError
        A file is missing or unreadable, the key is not EC, or it is not the certificate's.
    """
    try:
        cert = load_certificate(Path(cert_path).read_bytes())
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UserError) as err:
        raise ConfigError(
            f"cannot read this instance's TLS identity ({cert_path}, {key_path}): {err}",
            hint="point `tls` at the instance's certificate and key (`mpcrec pki csr`)",
        ) from err
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise ConfigError(
            f"{key_path} is not the private key of the certificate {cert_path}",
            hint="use the key the certificate was issued for",
        )
    return cert.public_bytes(serialization.Encoding.DER), key
