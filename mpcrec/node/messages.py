"""The node's signed messages to the launcher: each carries the instance's Ed25519 signature
over the audit-log entry it makes (:mod:`mpcrec.audit.entries`), so what the launcher checks
is what an auditor checks later."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy.typing as npt

from committees.seed import commitment
from mpcrec.audit import entries
from mpcrec.crypto.keys import NodeKeys
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.contribution import Contribution
from mpcrec.federation.gram_slice import slice_bytes, slice_digest
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.registration import Registration
from mpcrec.federation.result import MemberResult, result_entry
from mpcrec.federation.round_params import RoundParams

REASON_CHARS = 500  # a failure report's reason is cut to this


def registration(
    instance_id: str, keys: NodeKeys, mpc_address: str, bound: tuple[bytes, bytes]
) -> Registration:
    """Register ``instance_id`` with its public keys and committee address, and ``bound``:
    its certificate (DER) and key binding (:func:`mpcrec.node.key_check.own_binding`)."""
    certificate, key_binding = bound
    unsigned = Registration(
        instance_id=instance_id,
        signing_key=keys.signing_public,
        sealing_key=keys.sealing_public,
        mpc_address=mpc_address,
        entry_signature=b"",
        certificate=certificate,
        key_binding=key_binding,
    )
    signature = unsigned.entry().sign(keys.signing).signature
    return dataclasses.replace(unsigned, entry_signature=signature)


def fresh_secret() -> bytes:
    """A round's 32-byte seed secret."""
    return os.urandom(32)


def seed_commit(
    instance_id: str, keys: NodeKeys, round_id: int, secret: bytes
) -> tuple[bytes, bytes]:
    """``(commitment, signature)`` to ``secret`` (:func:`committees.seed.commitment`)."""
    value = commitment(round_id, instance_id, secret)
    entry = entries.seed_commit(instance_id=instance_id, round_id=round_id, commitment=value)
    return value, entry.sign(keys.signing).signature


def contribution(
    instance_id: str,
    keys: NodeKeys,
    ann: RoundAnnouncement,
    envelopes: list[bytes],
    weight: float,
    params_hash: bytes,
) -> tuple[Contribution, bytes]:
    """The upload of one envelope per member (rank order) and its signature over the
    contribution entry (digest, ``weight``, ``params_hash``)."""
    upload = Contribution(
        ann.round_id,
        instance_id,
        weight,
        dict(zip(ann.members, envelopes, strict=True)),
        params_hash=params_hash,
    )
    entry = entries.contribution(
        round_id=ann.round_id,
        instance_id=instance_id,
        model_version=ann.model_version,
        digest=upload.digest,
        size=upload.size,
        weight=weight,
        params_hash=params_hash,
    )
    return upload, entry.sign(keys.signing).signature


def result(
    instance_id: str,
    keys: NodeKeys,
    ann: RoundAnnouncement,
    model: PublishedModel,
    accepted: tuple[str, ...],
    params: RoundParams,
    weights: Mapping[str, float],
    released: npt.ArrayLike | None = None,
) -> MemberResult:
    """A member's signed result: model ``model`` from the frozen contributions ``accepted``,
    under ``params``, with the raw ``weights`` the contributors signed (and a Gram round's
    ``released`` slice, its digest signed: :mod:`mpcrec.federation.gram_slice`)."""
    gram_slice = b"" if released is None else slice_bytes(released)
    slice_hash = slice_digest(gram_slice) if released is not None else b""
    entry = result_entry(
        member=instance_id,
        round_id=ann.round_id,
        new_version=model.version,
        model_hash=model.model_hash,
        digests=ann.digest_of(),
        accepted=accepted,
        params=params,
        weights=weights,
        slice_hash=slice_hash,
    )
    return MemberResult(
        round_id=ann.round_id,
        member=instance_id,
        ok=True,
        reason="",
        model_hash=model.model_hash,
        accepted=accepted,
        signature=entry.sign(keys.signing).signature,
        model=model.data,
        params_hash=params.digest,
        weights=tuple(float(weights[c]) for c in ann.contributors),
        gram_slice=gram_slice,
        slice_hash=slice_hash,
    )


def failure(instance_id: str, round_id: int, reason: str) -> MemberResult:
    """A member's report that the round failed (unsigned: it publishes nothing)."""
    return MemberResult(
        round_id=round_id,
        member=instance_id,
        ok=False,
        reason=reason[:REASON_CHARS],
        model_hash=b"",
        accepted=(),
        signature=b"",
    )
