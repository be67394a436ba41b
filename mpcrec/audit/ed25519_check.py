"""Ed25519 checks of the log's signatures, each exact triple verified once.

Verification is deterministic, so a (key, signature, message) triple that verified once
verifies again: :func:`signed_by` remembers the last :data:`VERIFIED_AT_MOST` that held
(exact bytes; a failure is never remembered). The launcher checks each instance's entry
before its transaction and the log checks it again on append: at a thousand instances that
second check was a thousand more verifications a round for the commitments alone (0.3 to
0.6 ms each on the loaded 2-core benchmark machine: a quarter of a commitment's cost).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

VERIFIED_AT_MOST = 1024
_verified: dict[tuple[bytes, bytes, bytes], None] = {}


def signed_by(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is ``key``'s Ed25519 signature over ``message``."""
    known = (key.public_bytes_raw(), signature, message)
    if known in _verified:
        return True
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    if len(_verified) >= VERIFIED_AT_MOST:
        _verified.clear()
    _verified[known] = None
    return True
