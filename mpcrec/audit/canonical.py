"""The audit log's canonical bytes: :func:`canonical_json` (what every signature and Merkle
leaf is computed over) and :class:`LogFormatError` (a line that is not in the log's format).

Canonical JSON is UTF-8 with sorted keys, no spaces, no NaN; floats use Python's shortest
round-trip ``repr``.
"""

from __future__ import annotations

import json
from typing import Any

from mpcrec.errors import ProtocolError


class LogFormatError(ProtocolError):
    """A log line that is not a well-formed entry or tree head."""


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN or infinity."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
