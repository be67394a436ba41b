"""The digest that names a contribution: what its author signs, the launcher stores (to
refuse replays) and the committee's result lists as accepted or rejected."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping


def envelopes_digest(envelopes: Mapping[str, bytes]) -> bytes:
    """SHA-256 over the envelopes in member-id order, each prefixed by its 8-byte length."""
    h = hashlib.sha256()
    for member in sorted(envelopes):
        blob = envelopes[member]
        h.update(len(blob).to_bytes(8, "big"))
        h.update(blob)
    return h.digest()
