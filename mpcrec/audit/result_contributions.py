"""A round result's contributions: signed by their digest, logged apart.

A member's result names every frozen contribution of its round, accepted or rejected, with
its digest, and the raw weight it used for each (``accepted``, ``rejected``, ``weights``): at
a thousand contributors about 100 KB. Every node that fetches a model receives the signed
results of the committee that computed it (:mod:`mpcrec.node.model_provenance`), and no node
check reads those maps: it checks that a full committee signed this version and this hash.
So a member signs their digest instead (``contributions``, 32 bytes as hex:
:func:`contributions_digest`), and the maps travel apart: the launcher logs them in a
``result_contributions`` entry of the round before the first member result of that digest,
and the auditor rebuilds every result from them (:func:`expanded`) before any rule looks at
it, so every accepted contribution, its weight and its counting in ε are checked as before. A
result whose digest no earlier ``result_contributions`` entry of its round matches is a
``contribution`` finding.

A result signed with the maps in it (logs written before the digest: the *full* form) is
read as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from mpcrec.audit.canonical import canonical_json

_DOMAIN = b"mpcrec/result-contributions/v1\n"
#: The maps a full result holds and a compact one replaces by their digest.
MAPS = ("accepted", "rejected", "weights")
#: The compact result's field holding the digest.
DIGEST = "contributions"


def contributions_digest(maps: Mapping[str, Any]) -> bytes:
    """SHA-256 of ``b"mpcrec/result-contributions/v1\\n"`` and the canonical JSON of the
    three maps (``accepted`` and ``rejected``: id -> digest hex; ``weights``: id -> weight).

    >>> contributions_digest({"accepted": {}, "rejected": {}, "weights": {}}).hex()[:16]
    'a4f4d81d4d7c1c97'
    """
    return hashlib.sha256(_DOMAIN + canonical_json({k: maps[k] for k in MAPS})).digest()


def maps_of(result: Mapping[str, Any]) -> dict[str, Any]:
    """The three maps of a full result's JSON."""
    return {k: result[k] for k in MAPS}


def compact(result: Mapping[str, Any]) -> dict[str, Any]:
    """A full result's JSON with its maps replaced by their digest (what a member signs)."""
    out = {k: v for k, v in result.items() if k not in MAPS}
    out[DIGEST] = contributions_digest(result).hex()
    return out


def is_compact(result: Mapping[str, Any]) -> bool:
    """Whether a signed result names its contributions by digest."""
    return DIGEST in result


def expanded(result: Mapping[str, Any], maps: Mapping[str, Any]) -> dict[str, Any] | None:
    """The full result a compact ``result`` stands for, given ``maps`` (a
    ``result_contributions`` payload); ``None`` unless their digest is the signed one."""
    try:
        digest = contributions_digest(maps).hex()
    except (KeyError, TypeError, ValueError):
        return None
    if result.get(DIGEST) != digest:
        return None
    full = {k: v for k, v in result.items() if k != DIGEST}
    return {**full, **maps_of(maps)}
