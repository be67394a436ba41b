"""Sealing, signing and opening contribution envelopes: every rejection reason."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from mpcrec.crypto.codec import decode
from mpcrec.crypto.envelope import NonceRegistry, SealedShare, open_share, seal_contribution
from mpcrec.crypto.sharing import reconstruct
from mpcrec.errors import ProtocolError

DIM = 1000
ROUND = 7
MODEL = b"\xab" * 32


def _raw(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture
def setup() -> tuple[list[X25519PrivateKey], Ed25519PrivateKey, np.ndarray, list[SealedShare]]:
    members = [X25519PrivateKey.generate() for _ in range(3)]
    signer = Ed25519PrivateKey.generate()
    update = np.random.default_rng(1).normal(0, 0.1, DIM)
    sealed = seal_contribution(
        update,
        member_keys=[_raw(m) for m in members],
        signing_key=signer,
        round_id=ROUND,
        model_hash=MODEL,
        contributor_id="inst-a",
    )
    return members, signer, update, sealed


def _open(
    sealed: SealedShare,
    members: list[X25519PrivateKey],
    signer: Ed25519PrivateKey,
    seen: NonceRegistry,
    *,
    index: int | None = None,
    round_id: int = ROUND,
    model: bytes = MODEL,
    dim: int = DIM,
) -> np.ndarray:
    i = sealed.member_index if index is None else index
    return open_share(
        sealed,
        member_key=members[i],
        contributor_key=signer.public_key(),
        round_id=round_id,
        model_hash=model,
        member_index=i,
        dim=dim,
        seen=seen,
    )


def test_round_trip_through_bytes_reconstructs_the_update(setup) -> None:  # type: ignore[no-untyped-def]
    members, signer, update, sealed = setup
    parsed = [SealedShare.from_bytes(s.to_bytes()) for s in sealed]
    assert parsed == sealed
    shares = [_open(s, members, signer, NonceRegistry()) for s in parsed]
    assert np.max(np.abs(decode(reconstruct(shares)) - update)) <= 2.0**-17
    upload = sum(len(s.to_bytes()) for s in sealed)
    assert upload <= 8.1 * DIM + 600  # one vector plus two seeds plus headers


def test_rejects_tampered_ciphertext_and_signature(setup) -> None:  # type: ignore[no-untyped-def]
    members, signer, _, sealed = setup
    ct = bytearray(sealed[0].ciphertext)
    ct[5] ^= 1
    with pytest.raises(ProtocolError, match="bad signature"):
        _open(
            dataclasses.replace(sealed[0], ciphertext=bytes(ct)), members, signer, NonceRegistry()
        )
    forger = Ed25519PrivateKey.generate()
    with pytest.raises(ProtocolError, match="bad signature"):
        _open(sealed[1], members, forger, NonceRegistry())
    relabelled = dataclasses.replace(sealed[1], contributor_id="inst-b")
    with pytest.raises(ProtocolError, match="bad signature"):
        _open(relabelled, members, signer, NonceRegistry())


def test_rejects_replay_wrong_round_model_member(setup) -> None:  # type: ignore[no-untyped-def]
    members, signer, _, sealed = setup
    seen = NonceRegistry()
    _open(sealed[2], members, signer, seen)
    with pytest.raises(ProtocolError, match="replayed"):
        _open(sealed[2], members, signer, seen)
    with pytest.raises(ProtocolError, match="wrong round"):
        _open(sealed[0], members, signer, NonceRegistry(), round_id=ROUND + 1)
    with pytest.raises(ProtocolError, match="wrong model version"):
        _open(sealed[0], members, signer, NonceRegistry(), model=b"\x00" * 32)
    with pytest.raises(ProtocolError, match="sealed to member 0, not 1"):
        _open(sealed[0], members, signer, NonceRegistry(), index=1)


def test_rejects_wrong_length(setup) -> None:  # type: ignore[no-untyped-def]
    members, signer, _, sealed = setup
    with pytest.raises(ProtocolError, match="share of 8000 bytes, expected 8008"):
        _open(sealed[0], members, signer, NonceRegistry(), dim=DIM + 1)
    short = seal_contribution(
        np.zeros(DIM - 1),
        member_keys=[_raw(m) for m in members],
        signing_key=signer,
        round_id=ROUND,
        model_hash=MODEL,
        contributor_id="inst-a",
    )
    with pytest.raises(ProtocolError, match="expected 8000"):
        _open(short[0], members, signer, NonceRegistry())


def test_malformed_bytes_are_a_protocol_error(setup) -> None:  # type: ignore[no-untyped-def]
    _, _, _, sealed = setup
    data = sealed[1].to_bytes()
    with pytest.raises(ProtocolError):
        SealedShare.from_bytes(data[:-3])
    with pytest.raises(ProtocolError, match="magic"):
        SealedShare.from_bytes(b"XXXX" + data[4:])
