"""What an upload's envelopes declare: the contributor's weight and the round parameters'
digest, signed inside each secure envelope's header. The launcher refuses an upload whose
envelopes declare anything else than its header, so an honest launcher never streams a
weight that members would refuse as a ``weight-mismatch``."""

from __future__ import annotations

import math

from mpcrec.crypto.envelope import SealedShare
from mpcrec.errors import ProtocolError
from mpcrec.federation.contribution import Contribution
from mpcrec.federation.plain import plain_terms
from mpcrec.federation.refusals import InvalidMessage


def declared_terms(aggregation: str, blob: bytes) -> tuple[float, bytes]:
    """``(weight, params_hash)`` an envelope declares (``(nan, b"")`` if unreadable)."""
    try:
        if aggregation == "plaintext":
            return plain_terms(blob)
        sealed = SealedShare.from_bytes(blob)
    except ProtocolError:
        return (math.nan, b"")
    return sealed.weight, sealed.params_hash


def check_declared_terms(aggregation: str, upload: Contribution) -> None:
    """:class:`InvalidMessage` unless every envelope declares the upload's weight and
    round parameters digest."""
    for member, blob in upload.envelopes.items():
        if declared_terms(aggregation, blob) != (upload.weight, upload.params_hash):
            raise InvalidMessage(
                f"the envelope for {member} declares another weight or round parameters "
                "than the upload"
            )
