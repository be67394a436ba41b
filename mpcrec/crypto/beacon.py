"""drand beacons: the chain's public parameters, one round's value, and its BLS verification.

This is drand's format and verification (its HTTP API's ``/info`` and ``/public/{round}``
documents), pure and offline, so the launcher and the auditor check a beacon the same way:

1. A chain is fixed by its :class:`ChainInfo`: the group's BLS12-381 public key (48 bytes,
   compressed, on G1), the period and genesis time (round ``n`` is due at
   ``genesis_time + (n - 1) * period``), the chain hash and the scheme.
2. Round ``n``'s beacon is a BLS signature (96 bytes, on G2) by the group key over
   ``SHA-256(n as 8-byte big-endian)`` (``pedersen-bls-unchained``) or
   ``SHA-256(previous_signature || n as 8-byte big-endian)`` (``pedersen-bls-chained``),
   hashed to G2 with the ciphersuite ``BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_``
   (the IETF BLS signature draft's basic scheme, minimal public-key size).
3. The round's randomness is ``SHA-256(signature)``.

The pairing check is blspy's ``BasicSchemeMPL`` (that ciphersuite, min-pk). A
:class:`LocalSigner` signs the same way with a locally generated key: the tests' and the
demo's beacon (:mod:`mpcrec.federation.beacon_http`) is verified exactly as drand would be.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from blspy import BasicSchemeMPL, G1Element, G2Element, PrivateKey

from mpcrec.errors import ProtocolError

UNCHAINED = "pedersen-bls-unchained"
CHAINED = "pedersen-bls-chained"
SCHEMES = (UNCHAINED, CHAINED)
PUBLIC_KEY_BYTES = 48
SIGNATURE_BYTES = 96
_LOCAL_CHAIN_DOMAIN = b"mpcrec/local-beacon-chain/v1\x00"


class BeaconError(ProtocolError):
    """A beacon or chain description that is malformed or does not verify."""


def _hex(data: Mapping[str, Any], name: str, where: str) -> bytes:
    try:
        return bytes.fromhex(str(data[name]))
    except (KeyError, ValueError):
        raise BeaconError(f"{where}: field {name!r} is missing or not hex") from None


def _int(data: Mapping[str, Any], name: str, where: str, minimum: int) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise BeaconError(f"{where}: field {name!r} must be an integer >= {minimum}")
    return value


@dataclass(frozen=True)
class ChainInfo:
    """A drand chain's public parameters (its ``/info`` document)."""

    public_key: bytes
    period: int
    genesis_time: int
    chain_hash: bytes
    scheme: str = UNCHAINED

    def __post_init__(self) -> None:
        if len(self.public_key) != PUBLIC_KEY_BYTES:
            raise BeaconError(f"a beacon public key of {len(self.public_key)} bytes, expected 48")
        if self.scheme not in SCHEMES:
            raise BeaconError(
                f"beacon scheme {self.scheme!r} is not supported",
                hint=f"use a chain of scheme {' or '.join(SCHEMES)}",
            )
        if self.period < 1:
            raise BeaconError(f"beacon period {self.period} must be at least 1 second")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChainInfo:
        """Parse drand's ``/info`` document (extra fields, e.g. ``groupHash``, ignored)."""
        scheme = data.get("schemeID", UNCHAINED)
        return cls(
            public_key=_hex(data, "public_key", "chain info"),
            period=_int(data, "period", "chain info", 1),
            genesis_time=_int(data, "genesis_time", "chain info", 0),
            chain_hash=_hex(data, "hash", "chain info"),
            scheme=str(scheme),
        )

    def to_json(self) -> dict[str, Any]:
        """drand's ``/info`` fields (what the launcher logs in its config entry)."""
        return {
            "public_key": self.public_key.hex(),
            "period": self.period,
            "genesis_time": self.genesis_time,
            "hash": self.chain_hash.hex(),
            "schemeID": self.scheme,
        }

    def time_of(self, round_number: int) -> int:
        """When round ``round_number`` (>= 1) is due (unix seconds)."""
        return self.genesis_time + (round_number - 1) * self.period

    def first_round_after(self, t: float) -> int:
        """The first round due strictly after ``t``.

        >>> ChainInfo(bytes(48), 3, 100, bytes(32)).first_round_after(106.0)
        4
        """
        if t < self.genesis_time:
            return 1
        return math.floor((t - self.genesis_time) / self.period) + 2


@dataclass(frozen=True)
class Beacon:
    """One round of a chain (its ``/public/{round}`` document)."""

    round: int
    signature: bytes
    previous_signature: bytes = b""

    @property
    def randomness(self) -> bytes:
        """``SHA-256(signature)``, drand's randomness."""
        return hashlib.sha256(self.signature).digest()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Beacon:
        """Parse ``/public/{round}``; its ``randomness`` must be ``SHA-256(signature)``."""
        beacon = cls(
            round=_int(data, "round", "beacon", 1),
            signature=_hex(data, "signature", "beacon"),
            previous_signature=bytes.fromhex(str(data.get("previous_signature") or "")),
        )
        if "randomness" in data and _hex(data, "randomness", "beacon") != beacon.randomness:
            raise BeaconError(f"beacon round {beacon.round}: randomness is not SHA-256(signature)")
        return beacon

    def to_json(self) -> dict[str, Any]:
        """drand's ``/public/{round}`` fields (what the launcher logs with the draw)."""
        out: dict[str, Any] = {
            "round": self.round,
            "randomness": self.randomness.hex(),
            "signature": self.signature.hex(),
        }
        if self.previous_signature:
            out["previous_signature"] = self.previous_signature.hex()
        return out


def beacon_message(scheme: str, round_number: int, previous_signature: bytes = b"") -> bytes:
    """What the group signs for a round: SHA-256 of the round (8 bytes, big-endian), after
    the previous signature on a chained chain."""
    if not 0 < round_number < 2**64:
        raise BeaconError(f"beacon round {round_number} does not fit in 8 unsigned bytes")
    prefix = previous_signature if scheme == CHAINED else b""
    return hashlib.sha256(prefix + round_number.to_bytes(8, "big")).digest()


def beacon_error(chain: ChainInfo, beacon: Beacon, *, round_number: int | None = None) -> str:
    """Why ``beacon`` is not ``chain``'s (for round ``round_number``, if given); ``""`` if it is.

    Checks the round, the signature's encoding, and the BLS pairing against the chain's key.
    """
    if round_number is not None and beacon.round != round_number:
        return f"beacon of round {beacon.round}, expected round {round_number}"
    if len(beacon.signature) != SIGNATURE_BYTES:
        return f"a beacon signature of {len(beacon.signature)} bytes, expected 96"
    if chain.scheme == CHAINED and len(beacon.previous_signature) != SIGNATURE_BYTES:
        return "a chained beacon without its 96-byte previous signature"
    try:
        key = G1Element.from_bytes(chain.public_key)
        signature = G2Element.from_bytes(beacon.signature)
    except (ValueError, RuntimeError) as err:
        return f"not a BLS12-381 point ({err})"
    message = beacon_message(chain.scheme, beacon.round, beacon.previous_signature)
    if not BasicSchemeMPL.verify(key, message, signature):
        return f"the signature of beacon round {beacon.round} does not verify under the chain key"
    return ""


def verify_beacon(chain: ChainInfo, beacon: Beacon, *, round_number: int | None = None) -> None:
    """Raise :class:`BeaconError` unless ``beacon`` verifies under ``chain``."""
    why = beacon_error(chain, beacon, round_number=round_number)
    if why:
        raise BeaconError(why, hint="check the beacon URL and the chain info pinned in the config")


class LocalSigner:
    """A beacon group of one: a BLS key of its own, signing like a drand chain.

    Parameters
    ----------
    secret:
        At least 32 bytes of key material (``os.urandom(32)``; kept 0600 by its owner).
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise BeaconError("a local beacon key needs at least 32 bytes of key material")
        self._key: PrivateKey = BasicSchemeMPL.key_gen(secret)

    @property
    def public_key(self) -> bytes:
        """The 48-byte compressed G1 public key."""
        return bytes(self._key.get_g1())

    def chain(self, *, genesis_time: int, period: int, scheme: str = UNCHAINED) -> ChainInfo:
        """This key's chain; its hash is SHA-256 over a domain, the key, period, genesis
        and scheme (a local convention: drand's chain hashes are drand's own)."""
        digest = hashlib.sha256(
            _LOCAL_CHAIN_DOMAIN
            + self.public_key
            + period.to_bytes(4, "big")
            + genesis_time.to_bytes(8, "big")
            + scheme.encode()
        ).digest()
        return ChainInfo(self.public_key, period, genesis_time, digest, scheme)

    def sign(self, chain: ChainInfo, round_number: int, previous_signature: bytes = b"") -> Beacon:
        """Round ``round_number``'s beacon (``previous_signature`` on a chained chain)."""
        message = beacon_message(chain.scheme, round_number, previous_signature)
        signature = bytes(BasicSchemeMPL.sign(self._key, message))
        previous = previous_signature if chain.scheme == CHAINED else b""
        return Beacon(round_number, signature, previous)
