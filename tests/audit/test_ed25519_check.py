"""Signatures verified once are remembered by their exact bytes only (audit.ed25519_check)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpcrec.audit import ed25519_check
from mpcrec.audit.ed25519_check import signed_by


def test_a_remembered_signature_vouches_for_nothing_else() -> None:
    # Prepare: a signature that verified (and is now remembered)
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    message = b"seed_commit of a in round 7"
    signature = key.sign(message)
    assert signed_by(key.public_key(), signature, message)
    assert signed_by(key.public_key(), signature, message)  # again, from memory

    # Execute / Assert: any other key, message or signature is verified, and refused
    assert not signed_by(other.public_key(), signature, message)
    assert not signed_by(key.public_key(), signature, message + b"!")
    assert not signed_by(key.public_key(), other.sign(message), message)
    assert not signed_by(key.public_key(), b"\x00" * 64, message)


def test_failures_are_not_remembered_and_memory_is_bounded() -> None:
    key = Ed25519PrivateKey.generate()
    for n in range(ed25519_check.VERIFIED_AT_MOST + 10):
        message = f"entry {n}".encode()
        assert signed_by(key.public_key(), key.sign(message), message)
        assert not signed_by(key.public_key(), key.sign(message + b"x"), message)
    assert len(ed25519_check._verified) <= ed25519_check.VERIFIED_AT_MOST
