"""The launcher's signed tree head: its commitment to the first ``size`` leaves of the log.

- The launcher signs ``b"mpcrec/tree-head/v2\\n" || canonical({root, size, timestamp})``,
  ``timestamp`` in milliseconds since the Unix epoch (as RFC 6962's).
- Heads of logs written before heads carried a time (``timestamp`` ``None``) keep their v1
  bytes, ``b"mpcrec/tree-head/v1\\n" || canonical({root, size})``, and still verify: old
  logs are read as they are, not migrated; an auditor can only judge the staleness of timed
  heads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mpcrec.audit.canonical import LogFormatError, canonical_json
from mpcrec.audit.ed25519_check import signed_by

_HEAD_DOMAIN = b"mpcrec/tree-head/v1\n"  # heads without a time (old logs)
_TIMED_HEAD_DOMAIN = b"mpcrec/tree-head/v2\n"


@dataclass(frozen=True)
class TreeHead:
    """A signed tree head: the launcher's commitment to the first ``size`` entries, at
    ``timestamp`` (milliseconds since the Unix epoch; ``None`` in heads of older logs)."""

    size: int
    root: bytes
    signature: bytes = b""
    timestamp: int | None = None

    def _fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"root": self.root.hex(), "size": self.size}
        if self.timestamp is not None:
            fields["timestamp"] = self.timestamp
        return fields

    def signed_bytes(self) -> bytes:
        """What the launcher signs (v2 with a time, v1 without)."""
        domain = _HEAD_DOMAIN if self.timestamp is None else _TIMED_HEAD_DOMAIN
        return domain + canonical_json(self._fields())

    def sign(self, key: Ed25519PrivateKey) -> TreeHead:
        """This head signed with ``key``."""
        return replace(self, signature=key.sign(self.signed_bytes()))

    def verify(self, key: Ed25519PublicKey) -> bool:
        """Whether the signature is ``key``'s over this head."""
        return signed_by(key, self.signature, self.signed_bytes())

    def to_json(self) -> dict[str, Any]:
        """The exported form (one JSON Lines line)."""
        return {"head": self._fields(), "sig": self.signature.hex()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str = "head") -> TreeHead:
        """Parse the exported form; raises :class:`LogFormatError` naming ``where``."""
        try:
            head = data["head"]
            size, root = head["size"], bytes.fromhex(head["root"])
            timestamp = head.get("timestamp")
            if not isinstance(size, int) or size < 0 or len(root) != 32:
                raise ValueError("size or root malformed")
            if timestamp is not None and (not isinstance(timestamp, int) or timestamp < 0):
                raise ValueError("timestamp is not a count of milliseconds")
            return cls(size, root, bytes.fromhex(data["sig"]), timestamp)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise LogFormatError(f"{where}: not a tree head ({err})") from None
