"""A node's witness of the log: the latest signed tree head it holds, cosigned by it.

The launcher signs tree heads; a node that checked one (consistent with every head it saw
before, its own entries proven in it) cosigns it with its Ed25519 key and publishes the
pair, without the launcher: as a file in its state directory
(``state_dir/witnessed_head.json``, which an auditor collects) and, if configured, over
HTTP for its peers (:mod:`mpcrec.node.log_watch`).

- The node signs ``b"mpcrec/witnessed-head/v1\\n" || canonical({head, sig, witness})``,
  ``head`` and ``sig`` as in :meth:`~mpcrec.audit.entries.TreeHead.to_json`, ``witness`` its
  instance id.
- The file is the canonical JSON of ``{"witness": id, "head": {...}, "sig": hex,
  "cosig": hex}``.

Any launcher-signed head is evidence by itself: two that no consistency proof joins prove a
fork, whoever delivers them. The cosignature names *who* saw a head, so an auditor can
require heads from ``t`` distinct nodes (``mpcrec audit verify --require-heads t``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpcrec.audit.entries import LogFormatError, TreeHead, canonical_json

WITNESS_FILE = "witnessed_head.json"
_DOMAIN = b"mpcrec/witnessed-head/v1\n"


@dataclass(frozen=True)
class WitnessedHead:
    """A launcher-signed ``head`` cosigned by the node ``witness``."""

    witness: str
    head: TreeHead
    cosignature: bytes = b""

    def signed_bytes(self) -> bytes:
        """What the witness signs."""
        return _DOMAIN + canonical_json({**self.head.to_json(), "witness": self.witness})

    def sign(self, key: Ed25519PrivateKey) -> WitnessedHead:
        """This witness cosigned with ``key``."""
        return replace(self, cosignature=key.sign(self.signed_bytes()))

    def verify(self, key: bytes) -> bool:
        """Whether the cosignature is the raw Ed25519 ``key``'s."""
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(self.cosignature, self.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        """The published form."""
        return {**self.head.to_json(), "witness": self.witness, "cosig": self.cosignature.hex()}

    def to_bytes(self) -> bytes:
        """The published file's bytes."""
        return canonical_json(self.to_json()) + b"\n"

    @classmethod
    def from_json(cls, data: Any, *, where: str = "witnessed head") -> WitnessedHead:
        """Parse the published form; :class:`LogFormatError` naming ``where``."""
        try:
            head = TreeHead.from_json(data, where=where)
            witness, cosig = data["witness"], bytes.fromhex(data["cosig"])
            if not isinstance(witness, str) or not witness:
                raise ValueError("no witness id")
        except (KeyError, TypeError, ValueError) as err:
            raise LogFormatError(f"{where}: not a witnessed tree head ({err})") from None
        return cls(witness, head, cosig)

    @classmethod
    def from_bytes(cls, raw: bytes, *, where: str = "witnessed head") -> WitnessedHead:
        """Parse a published file's bytes."""
        try:
            data = json.loads(raw)
        except ValueError as err:
            raise LogFormatError(f"{where}: not JSON ({err})") from None
        return cls.from_json(data, where=where)


def is_witness_line(data: Any) -> bool:
    """Whether a parsed JSON line is a witnessed head (rather than a bare tree head)."""
    return isinstance(data, dict) and "head" in data and "witness" in data


def read_witness(path: Path) -> WitnessedHead:
    """The witnessed head in ``path`` (:class:`LogFormatError` if malformed)."""
    return WitnessedHead.from_bytes(Path(path).read_bytes(), where=str(path))
