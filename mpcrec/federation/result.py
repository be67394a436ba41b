"""What a committee member signs when it returns a round's result."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

DOMAIN = b"mpcrec/round-result/v1\x00"


def result_statement(round_id: int, model_hash: bytes, accepted: Sequence[str]) -> bytes:
    """``SHA-256(domain || round_id (8, big-endian) || model_hash || accepted ids, sorted)``.

    Each member signs this with its Ed25519 key; an auditor checks every member's signature
    over the published model's hash and the accepted contributors.
    """
    h = hashlib.sha256(DOMAIN + round_id.to_bytes(8, "big") + model_hash)
    for who in sorted(accepted):
        name = who.encode()
        h.update(len(name).to_bytes(2, "big") + name)
    return h.digest()
