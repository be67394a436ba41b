"""The weight and the round parameters' digest are signed inside every envelope's header."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from mpcrec.crypto.envelope import SealedShare, seal_contribution, signed_terms
from mpcrec.errors import ProtocolError

PARAMS = b"\x42" * 32


def _sealed(weight: float) -> tuple[Ed25519PrivateKey, list[SealedShare]]:
    signer = Ed25519PrivateKey.generate()
    members = [X25519PrivateKey.generate().public_key().public_bytes_raw() for _ in range(3)]
    sealed = seal_contribution(
        np.zeros(8),
        member_keys=members,
        signing_key=signer,
        round_id=3,
        model_hash=b"\x01" * 32,
        contributor_id="tube-a",
        weight=weight,
        params_hash=PARAMS,
    )
    return signer, sealed


def test_a_member_reads_the_signed_weight_from_the_envelope_bytes() -> None:
    signer, sealed = _sealed(1234.5)

    terms = [
        signed_terms(SealedShare.from_bytes(s.to_bytes()), signer.public_key()) for s in sealed
    ]

    assert terms == [(1234.5, PARAMS)] * 3


@pytest.mark.parametrize(
    "change", [{"weight": 1e12}, {"weight": float("inf")}, {"params_hash": b"\x00" * 32}]
)
def test_a_rewritten_weight_or_digest_breaks_the_contributors_signature(
    change: dict[str, object],
) -> None:
    signer, sealed = _sealed(10.0)
    forged = SealedShare.from_bytes(dataclasses.replace(sealed[0], **change).to_bytes())  # type: ignore[arg-type]

    with pytest.raises(ProtocolError, match="bad signature"):
        signed_terms(forged, signer.public_key())
