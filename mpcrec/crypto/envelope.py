"""Contribution envelopes: one share (or seed) sealed to one member, signed by its author.

Sealing (per member ``j``) follows the ECIES pattern with modern primitives:

1. a fresh ephemeral X25519 key pair ``(e, E)``; ``Z = X25519(e, member_j)``;
2. ``K = HKDF-SHA256(Z, salt=E || member_j, info="mpcrec share v1")`` (32 bytes);
3. ``ct = AES-256-GCM(K, nonce=0, share_bytes, aad=header)`` (``K`` is used once, so a
   fixed GCM nonce is safe);
4. ``sig = Ed25519(contributor, header || SHA-256(ct))``.

The header binds the round id, the model version hash, the contributor id, the member
index, a fresh 16-byte contribution nonce, ``E``, the contributor's raw weight and the
digest of the round parameters it contributes under
(:class:`mpcrec.federation.round_params.RoundParams`): a member reads the weight from the
signed envelope itself (:func:`signed_terms`), not from the launcher. A member rejects, with a
:class:`~mpcrec.errors.ProtocolError` naming the reason, a bad signature, a wrong round or
model version, a wrong member index, a replayed nonce, or a share of the wrong length.

Member 0 receives share 1 (``8 * dim`` bytes); members ``1..k-1`` receive a 32-byte seed,
so a contribution costs ``8 * dim`` bytes plus about 230 bytes per member.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mpcrec.crypto.codec import encode
from mpcrec.crypto.replay import NonceRegistry as NonceRegistry  # its home before
from mpcrec.crypto.sharing import SEED_BYTES, Share, expand_seed, split
from mpcrec.errors import ProtocolError

MAGIC = b"MPS2"
NONCE_BYTES = 16
_INFO = b"mpcrec share v1"
_GCM_NONCE = bytes(12)
_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw


@dataclass(frozen=True)
class SealedShare:
    """One member's share of one contribution, encrypted to the member and signed.

    Attributes
    ----------
    round_id, model_hash, contributor_id, member_index, nonce:
        What the envelope is bound to (``member_index`` is 0-based, in committee order).
    ephemeral_key:
        Raw 32-byte X25519 public key of the sealing.
    ciphertext:
        AES-256-GCM ciphertext of the share bytes (or of the seed), tag included.
    signature:
        Ed25519 signature of ``header || SHA-256(ciphertext)``.
    weight, params_hash:
        The contributor's raw weight and the round parameters' digest it signed.
    """

    round_id: int
    model_hash: bytes
    contributor_id: str
    member_index: int
    nonce: bytes
    ephemeral_key: bytes
    ciphertext: bytes
    signature: bytes
    weight: float = 0.0
    params_hash: bytes = b""

    def header(self) -> bytes:
        """The canonical bytes that the AEAD authenticates and the signature covers."""
        cid = self.contributor_id.encode("utf-8")
        return b"".join(
            [
                MAGIC,
                struct.pack(">QH", self.round_id, len(self.model_hash)),
                self.model_hash,
                struct.pack(">H", len(cid)),
                cid,
                struct.pack(">H", self.member_index),
                self.nonce,
                self.ephemeral_key,
                struct.pack(">dH", self.weight, len(self.params_hash)),
                self.params_hash,
            ]
        )

    def signed_bytes(self) -> bytes:
        """``header || SHA-256(ciphertext)``: what the contributor signs."""
        return self.header() + hashlib.sha256(self.ciphertext).digest()

    def to_bytes(self) -> bytes:
        """Serialise: header, then the 64-byte signature, then the length-prefixed ciphertext."""
        return (
            self.header()
            + self.signature
            + struct.pack(">Q", len(self.ciphertext))
            + (self.ciphertext)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedShare:
        """Parse :meth:`to_bytes` output; raises :class:`ProtocolError` if malformed."""
        try:
            return _parse(memoryview(data))
        except (struct.error, UnicodeDecodeError, IndexError) as err:
            raise ProtocolError(f"malformed sealed share ({len(data)} bytes): {err}") from err


def _parse(buf: memoryview) -> SealedShare:
    if bytes(buf[:4]) != MAGIC:
        raise ProtocolError(f"not a sealed share: magic {bytes(buf[:4])!r}, expected {MAGIC!r}")
    pos = 4
    round_id, hash_len = struct.unpack_from(">QH", buf, pos)
    pos += 10
    model_hash = bytes(buf[pos : pos + hash_len])
    pos += hash_len
    (cid_len,) = struct.unpack_from(">H", buf, pos)
    pos += 2
    contributor_id = bytes(buf[pos : pos + cid_len]).decode("utf-8")
    pos += cid_len
    (member_index,) = struct.unpack_from(">H", buf, pos)
    pos += 2
    nonce = bytes(buf[pos : pos + NONCE_BYTES])
    ephemeral_key = bytes(buf[pos + NONCE_BYTES : pos + NONCE_BYTES + 32])
    pos += NONCE_BYTES + 32
    weight, params_len = struct.unpack_from(">dH", buf, pos)
    pos += 10
    params_hash = bytes(buf[pos : pos + params_len])
    pos += params_len
    signature = bytes(buf[pos : pos + 64])
    (ct_len,) = struct.unpack_from(">Q", buf, pos + 64)
    pos += 72
    if len(buf) - pos != ct_len or len(nonce) != NONCE_BYTES or len(signature) != 64:
        raise ProtocolError(f"truncated or padded sealed share: {len(buf) - pos} != {ct_len}")
    ciphertext = bytes(buf[pos:])
    return SealedShare(
        round_id,
        model_hash,
        contributor_id,
        member_index,
        nonce,
        ephemeral_key,
        ciphertext,
        signature,
        weight,
        params_hash,
    )


def signed_terms(sealed: SealedShare, contributor_key: Ed25519PublicKey) -> tuple[float, bytes]:
    """``(weight, params_hash)`` of an envelope, once its signature is checked against the
    contributor's key (:class:`ProtocolError` when it does not verify); nothing is decrypted."""
    try:
        contributor_key.verify(sealed.signature, sealed.signed_bytes())
    except InvalidSignature as err:
        raise ProtocolError(f"envelope from {sealed.contributor_id!r}: bad signature") from err
    return sealed.weight, sealed.params_hash


def _derive_key(shared: bytes, ephemeral: bytes, member: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + member, info=_INFO)
    return hkdf.derive(shared)


def seal_contribution(
    update: npt.ArrayLike,
    *,
    member_keys: Sequence[bytes],
    signing_key: Ed25519PrivateKey,
    round_id: int,
    model_hash: bytes,
    contributor_id: str,
    rng: np.random.Generator | None = None,
    weight: float = 1.0,
    params_hash: bytes = b"",
) -> list[SealedShare]:
    """Encode, split and seal one update: share 1 to member 0, a seed to each other member.

    Parameters
    ----------
    update:
        The real-valued update (flattened).
    member_keys:
        Raw 32-byte X25519 public keys of the members, in committee order.
    signing_key:
        The contributor's Ed25519 key.
    round_id, model_hash, contributor_id:
        What the envelopes are bound to.
    rng:
        Reproducible seeds for tests only (the ephemeral keys and nonce stay random).
    weight, params_hash:
        The contributor's raw weight and the round parameters' digest, signed in the header.
    """
    encoded = encode(np.ravel(np.asarray(update, dtype=np.float64)))
    first, seeds = split(encoded, len(member_keys), rng=rng)
    return seal_shares(
        [first.astype("<i8").tobytes(), *seeds],
        member_keys=member_keys,
        signing_key=signing_key,
        round_id=round_id,
        model_hash=model_hash,
        contributor_id=contributor_id,
        weight=weight,
        params_hash=params_hash,
    )


def seal_shares(
    payloads: Sequence[bytes],
    *,
    member_keys: Sequence[bytes],
    signing_key: Ed25519PrivateKey,
    round_id: int,
    model_hash: bytes,
    contributor_id: str,
    weight: float = 1.0,
    params_hash: bytes = b"",
) -> list[SealedShare]:
    """Seal one payload per member under one fresh contribution nonce (see module doc)."""
    if len(payloads) != len(member_keys):
        raise ValueError(f"{len(payloads)} payloads for {len(member_keys)} members")
    nonce = os.urandom(NONCE_BYTES)
    sealed = []
    for index, (payload, member) in enumerate(zip(payloads, member_keys, strict=True)):
        ephemeral = X25519PrivateKey.generate()
        eph_pub = ephemeral.public_key().public_bytes(_RAW, _RAW_PUB)
        key = _derive_key(
            ephemeral.exchange(X25519PublicKey.from_public_bytes(member)), eph_pub, member
        )
        unsigned = SealedShare(
            round_id,
            model_hash,
            contributor_id,
            index,
            nonce,
            eph_pub,
            b"",
            b"",
            weight,
            params_hash,
        )
        ciphertext = AESGCM(key).encrypt(_GCM_NONCE, payload, unsigned.header())
        body = replace(unsigned, ciphertext=ciphertext)
        sealed.append(replace(body, signature=signing_key.sign(body.signed_bytes())))
    return sealed


def open_share(
    sealed: SealedShare,
    *,
    member_key: X25519PrivateKey,
    contributor_key: Ed25519PublicKey,
    round_id: int,
    model_hash: bytes,
    member_index: int,
    dim: int,
    seen: NonceRegistry,
) -> Share:
    """Check and decrypt one envelope; return this member's ``int64`` share (length ``dim``).

    Raises
    ------
    ProtocolError
        Wrong round, model version or member index; bad signature; replayed nonce;
        undecryptable ciphertext; share of the wrong length.
    """
    who = f"envelope from {sealed.contributor_id!r} (round {sealed.round_id})"
    if sealed.round_id != round_id:
        raise ProtocolError(f"{who}: wrong round id {sealed.round_id}, expected {round_id}")
    if sealed.model_hash != model_hash:
        raise ProtocolError(
            f"{who}: wrong model version {sealed.model_hash.hex()[:16]}…, "
            f"expected {model_hash.hex()[:16]}…"
        )
    if sealed.member_index != member_index:
        raise ProtocolError(f"{who}: sealed to member {sealed.member_index}, not {member_index}")
    try:
        contributor_key.verify(sealed.signature, sealed.signed_bytes())
    except InvalidSignature as err:
        raise ProtocolError(f"{who}: bad signature") from err
    if (sealed.contributor_id, sealed.nonce) in seen:
        raise ProtocolError(f"{who}: replayed nonce {sealed.nonce.hex()}")
    payload = _decrypt(sealed, member_key, who)
    share = _payload_to_share(payload, member_index, dim, who)
    seen.add(sealed.contributor_id, sealed.nonce)
    return share


def _decrypt(sealed: SealedShare, member_key: X25519PrivateKey, who: str) -> bytes:
    member = member_key.public_key().public_bytes(_RAW, _RAW_PUB)
    try:
        shared = member_key.exchange(X25519PublicKey.from_public_bytes(sealed.ephemeral_key))
        key = _derive_key(shared, sealed.ephemeral_key, member)
        return AESGCM(key).decrypt(_GCM_NONCE, sealed.ciphertext, sealed.header())
    except (InvalidTag, ValueError) as err:
        raise ProtocolError(f"{who}: cannot decrypt (not sealed to this member?)") from err


def _payload_to_share(payload: bytes, member_index: int, dim: int, who: str) -> Share:
    if member_index == 0:
        if len(payload) != 8 * dim:
            raise ProtocolError(
                f"{who}: share of {len(payload)} bytes, expected {8 * dim} (dim {dim})"
            )
        return np.frombuffer(payload, dtype="<i8").astype(np.int64, copy=False)
    if len(payload) != SEED_BYTES:
        raise ProtocolError(f"{who}: seed of {len(payload)} bytes, expected {SEED_BYTES}")
    return expand_seed(payload, dim)
