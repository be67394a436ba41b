"""A contribution on its way: the upload (one opaque envelope per committee member), its
receipt, and the envelopes a member downloads; with the digest that names a contribution,
what its author signs, the launcher stores (to refuse replays) and the committee's result
lists as accepted or rejected."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field


def envelopes_digest(envelopes: Mapping[str, bytes]) -> bytes:
    """SHA-256 over the envelopes in member-id order, each prefixed by its 8-byte length."""
    h = hashlib.sha256()
    for member in sorted(envelopes):
        blob = envelopes[member]
        h.update(len(blob).to_bytes(8, "big"))
        h.update(blob)
    return h.digest()


@dataclass(frozen=True)
class Contribution:
    """One instance's upload for one round: an opaque envelope per committee member, with
    its raw weight and the digest of the round parameters it was sealed under (both also
    signed inside every envelope)."""

    round_id: int
    contributor: str
    weight: float
    envelopes: Mapping[str, bytes] = field(repr=False)
    params_hash: bytes = b""

    @property
    def digest(self) -> bytes:
        """SHA-256 over the envelopes (:func:`envelopes_digest`)."""
        return envelopes_digest(self.envelopes)

    @property
    def size(self) -> int:
        """Bytes uploaded (all envelopes)."""
        return sum(len(b) for b in self.envelopes.values())


@dataclass(frozen=True)
class UploadReceipt:
    """The launcher's receipt for an upload: the digest of what it received, and its size."""

    round_id: int
    digest: bytes
    size: int


@dataclass(frozen=True)
class Envelope:
    """One envelope a member downloaded: who sent it, its public weight, the sender's
    registered signing key, its bytes; with the sender's registered sealing key,
    certificate (DER) and key binding, which vouch for the signing key."""

    contributor: str
    weight: float
    signing_key: bytes
    data: bytes = field(repr=False)
    sealing_key: bytes = b""
    certificate: bytes = field(default=b"", repr=False)
    key_binding: bytes = field(default=b"", repr=False)
