"""The digest of a round's parameters: what contributions and results sign, what the config
entry states and what the auditor recomputes (:mod:`mpcrec.audit.checks.params`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from mpcrec.audit.entries import canonical_json

_PARAMS_DOMAIN = b"mpcrec/round-params/v1\n"


def params_digest(params: Mapping[str, Any]) -> bytes:
    """SHA-256 of ``b"mpcrec/round-params/v1\\n"`` and the canonical JSON of round parameters
    (:class:`mpcrec.federation.round_params.RoundParams`)."""
    return hashlib.sha256(_PARAMS_DOMAIN + canonical_json(dict(params))).digest()
