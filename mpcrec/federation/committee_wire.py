"""A model's committee signatures on the wire, the members' common result sent once.

Every member of a round signs a ``result_signature`` entry whose payload is ``{"result":
...}``, the same in every member's. The result names the round's contributions by the digest
of their maps (:mod:`mpcrec.audit.result_contributions`: a few hundred bytes at any number
of contributors; before it, the maps themselves, about 100 KB at a thousand contributors,
which an older launcher may still serve). A model (``ModelChunk``) carries that result once
(``committee_result``: its canonical JSON) and each member's entry without its payload
(index, kind, round, author, sig, with its keys); the receiver rebuilds each entry as
``{..., "payload": {"result": <the shared result>}}``. Nothing here is trusted: the node
verifies each member's signature over the rebuilt entry exactly as over a full one
(:mod:`mpcrec.node.model_provenance`), so a shared result the launcher altered fails every
signature (``model-unsigned``), and one that does not parse leaves the entries without a
payload, refused the same way. A member whose payload is not the common one is sent in full,
as is every entry when the receiver did not ask for the compact form
(``GetModelRequest.shared_result``: older nodes), and full entries are always accepted. The
rebuilt entries weigh at most one message's bytes together (:func:`committee_from_wire`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from mpcrec.audit.canonical import canonical_json
from mpcrec.federation.published_model import CommitteeSignature
from mpcrec.federation.tls import MAX_MESSAGE


def _result_of(signature: CommitteeSignature) -> bytes | None:
    """The canonical JSON of the entry's result if its payload is exactly ``{"result"}``."""
    payload = signature.entry.get("payload")
    if not isinstance(payload, dict) or set(payload) != {"result"}:
        return None
    try:
        return canonical_json(payload["result"])
    except (TypeError, ValueError):
        return None


def shared_result(committee: Sequence[CommitteeSignature]) -> bytes:
    """The result most members signed (the first of a tie), canonical JSON; ``b""`` if
    no member's payload is a result."""
    counts = Counter(r for r in map(_result_of, committee) if r is not None)
    return counts.most_common(1)[0][0] if counts else b""


def committee_to_wire(
    committee: Sequence[CommitteeSignature], *, compact: bool = True
) -> tuple[bytes, list[bytes]]:
    """``(committee_result, committee_signatures)`` for a ``ModelChunk``: with ``compact``,
    the common result once and the entries that share it without their payload; without,
    ``b""`` and every entry in full (the form before the shared result)."""
    shared = shared_result(committee) if compact else b""
    wire = [s.to_bytes(with_payload=not shared or _result_of(s) != shared) for s in committee]
    return shared, wire


def _payload(shared: bytes) -> dict[str, Any] | None:
    """``{"result": <shared>}``, or ``None`` if there is no shared result or it is no JSON."""
    if not shared:
        return None
    try:
        return {"result": json.loads(shared)}
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None  # the entries stay without a payload: refused as unreadable


def committee_from_wire(
    shared: bytes, signatures: Sequence[bytes], *, budget: int = MAX_MESSAGE
) -> tuple[CommitteeSignature, ...]:
    """The signatures of a ``ModelChunk``, each entry sent without a payload given the
    shared result (parsed for each, so that no two entries share a payload object).

    The rebuilt entries may weigh at most ``budget`` bytes together (the largest message,
    what the old form's entries could weigh): past it none is rebuilt and each stays
    without a payload (refused as unreadable), so that a launcher cannot make a node parse
    and verify one large result once for each of thousands of tiny entries."""
    if len(shared) * len(signatures) > budget:
        shared = b""
    return tuple(CommitteeSignature.from_bytes(raw, _payload(shared)) for raw in signatures)
