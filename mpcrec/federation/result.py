"""A committee member's result, and what it signs when it returns one: the audit log's
``result_signature`` entry (:mod:`mpcrec.audit.entries`), so the signature the launcher
checks is the one an auditor checks. The entry names the round's contributions by the
digest of their maps (:mod:`mpcrec.audit.result_contributions`); the launcher logs the maps
themselves beside it (:func:`round_result` gives both)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpcrec.audit.entries import LogEntry, RoundResult, result_signature
from mpcrec.federation.round_params import RoundParams


@dataclass(frozen=True)
class MemberResult:
    """A committee member's result for a round, or its report that the round failed."""

    round_id: int
    member: str
    ok: bool
    reason: str
    model_hash: bytes
    accepted: tuple[str, ...]
    signature: bytes
    model: bytes = field(default=b"", repr=False)  # dropped once the round has ended
    params_hash: bytes = b""  # the round parameters the member computed under
    weights: tuple[float, ...] = ()  # the raw weight it used per frozen contribution
    gram_slice: bytes = field(default=b"", repr=False)  # a Gram round's revealed slice
    slice_hash: bytes = b""  # its digest (mpcrec.federation.gram_slice), signed


def result_entry(*, member: str, **fields: Any) -> LogEntry:
    """The unsigned entry ``member`` signs over :func:`round_result` of ``fields``."""
    return result_signature(member=member, result=round_result(**fields))


def round_result(
    *,
    round_id: int,
    new_version: int,
    model_hash: bytes,
    digests: Mapping[str, bytes],
    accepted: Sequence[str],
    params: RoundParams,
    weights: Mapping[str, float],
    slice_hash: bytes = b"",
) -> RoundResult:
    """The result a member signs: every frozen contribution (by its digest)
    accepted or rejected, the hash of model ``new_version``, the round parameters (their
    digest, the noise multiplier of THIS round: a dpals count release's on version 0, and
    the sensitivity convention) and the raw weight it used for each
    contribution (the one its author signed), and in a Gram release's round the revealed
    slice's digest (``slice_hash``); the sample rate is the unit's
    (:attr:`RoundParams.sample_rate`: ``1`` for instances, all asked every round)."""
    ok = set(accepted)
    return RoundResult(
        round_id=round_id,
        model_version=new_version,
        model_hash=model_hash,
        accepted={c: d for c, d in digests.items() if c in ok},
        rejected={c: d for c, d in digests.items() if c not in ok},
        noise_multiplier=params.release_noise_multiplier(new_version - 1),
        sample_rate=params.sample_rate,
        params_hash=params.digest,
        weights=dict(weights),
        sensitivity=params.sensitivity,
        slice_hash=slice_hash,
    )
