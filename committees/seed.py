"""The round seed: per-round commit-reveal among the round's participants.

Protocol (one round ``r``, as the launcher runs it, ``docs/protocol.md``):

1. After round ``r`` opens, each participant draws a fresh 32-byte secret ``s`` and sends
   its *commitment* for ``r``, signed as a ``seed_commit`` log entry:
   ``commitment(r, id, s) = SHA-256("mpcrec/seed-commit/v1" 0x00 || r (8 bytes) ||
   len(id) (2 bytes) || id || s)``.
2. Once the commitments are closed, each participant that committed reveals ``s``; the
   launcher (and any auditor) checks it with :func:`verify_reveal`.
3. The seed is :func:`combine_reveals`: SHA-256 over the round and every ``(id, s)`` in
   sorted id order. One honest participant's secret makes it uniform and unpredictable.

*Last revealer.* The last participant to reveal knows the seed before anyone else and may
withhold its reveal to force a redraw. Policy: reveals have a deadline; a missing reveal
aborts the round (no seed, no committee, logged), the next round uses fresh secrets, and
the withholder is visible in the log. Withholding buys at most one redraw per withheld
reveal, never a chosen seed. The launcher, which sees reveals first, has the same power by
aborting; every abort after the reveals is logged and counted by the auditor.

*Beacon.* The commit-reveal seed alone leaves the last revealer (and the launcher, which
sees reveals first) a choice between outcomes. With a beacon (``docs/protocol.md``), round
``r``'s open entry names a drand round ``b(r)`` due after the reveal deadline, and the
committee seed is :func:`committee_seed`:
``SHA-256("mpcrec/committee-seed/v1" 0x00 || r (8 bytes) || reveal seed || randomness of b(r))``
after the beacon's BLS signature verifies (:mod:`mpcrec.crypto.beacon`). Nobody knows
``b(r)``'s value while commitments or reveals are open, so withholding chooses nothing; an
honest reveal keeps the seed unpredictable even to the beacon's group.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping

from mpcrec.errors import ConfigError, ProtocolError

SECRET_BYTES = 32
_COMMIT_DOMAIN = b"mpcrec/seed-commit/v1\x00"
_SEED_DOMAIN = b"mpcrec/seed/v1\x00"
_COMMITTEE_DOMAIN = b"mpcrec/committee-seed/v1\x00"
RANDOMNESS_BYTES = 32


def _tagged_id(instance_id: str) -> bytes:
    raw = instance_id.encode("utf-8")
    if not raw or len(raw) > 0xFFFF:
        raise ConfigError(f"instance id {instance_id!r} must be 1 to 65535 UTF-8 bytes")
    return len(raw).to_bytes(2, "big") + raw


def _round_bytes(round_id: int) -> bytes:
    if not 0 <= round_id < 2**64:
        raise ConfigError(f"round id {round_id} does not fit in 8 unsigned bytes")
    return round_id.to_bytes(8, "big")


def commitment(round_id: int, instance_id: str, secret: bytes) -> bytes:
    """The domain-separated SHA-256 commitment of ``instance_id`` to ``secret`` for a round.

    Examples
    --------
    >>> c = commitment(7, "peertube.example", bytes(32))
    >>> verify_reveal(7, "peertube.example", bytes(32), c), verify_reveal(8, "peertube.example",
    ...     bytes(32), c)
    (True, False)
    """
    if len(secret) != SECRET_BYTES:
        raise ProtocolError(f"seed secret of {len(secret)} bytes; expected {SECRET_BYTES}")
    return hashlib.sha256(
        _COMMIT_DOMAIN + _round_bytes(round_id) + _tagged_id(instance_id) + secret
    ).digest()


def verify_reveal(round_id: int, instance_id: str, secret: bytes, expected: bytes) -> bool:
    """Whether ``secret`` opens the commitment ``expected`` of ``instance_id`` for a round."""
    if len(secret) != SECRET_BYTES:
        return False
    return secrets.compare_digest(commitment(round_id, instance_id, secret), expected)


def combine_reveals(round_id: int, reveals: Mapping[str, bytes]) -> bytes:
    """The round's seed from every participant's revealed secret (order-independent).

    Examples
    --------
    >>> a = combine_reveals(3, {"x": bytes(32), "y": b"\\x01" * 32})
    >>> a == combine_reveals(3, {"y": b"\\x01" * 32, "x": bytes(32)})
    True
    """
    if not reveals:
        raise ProtocolError(f"round {round_id}: no reveals to combine into a seed")
    digest = hashlib.sha256(_SEED_DOMAIN + _round_bytes(round_id))
    for instance_id in sorted(reveals, key=lambda i: i.encode("utf-8")):
        secret = reveals[instance_id]
        if len(secret) != SECRET_BYTES:
            raise ProtocolError(f"round {round_id}: reveal of {instance_id} is not 32 bytes")
        digest.update(_tagged_id(instance_id) + secret)
    return digest.digest()


def committee_seed(round_id: int, reveal_seed: bytes, beacon_randomness: bytes) -> bytes:
    """The sortition seed of a beacon-bound round: the reveals' seed and the beacon's
    randomness (both 32 bytes) under a domain and the round id.

    Examples
    --------
    >>> a = committee_seed(3, bytes(32), bytes(32))
    >>> a != committee_seed(3, bytes(32), b"\\x01" * 32)
    True
    >>> a != committee_seed(4, bytes(32), bytes(32))
    True
    """
    if len(reveal_seed) != SECRET_BYTES or len(beacon_randomness) != RANDOMNESS_BYTES:
        raise ProtocolError(
            f"round {round_id}: a reveal seed of {len(reveal_seed)} bytes and beacon randomness "
            f"of {len(beacon_randomness)} bytes; expected 32 each"
        )
    return hashlib.sha256(
        _COMMITTEE_DOMAIN + _round_bytes(round_id) + reveal_seed + beacon_randomness
    ).digest()
