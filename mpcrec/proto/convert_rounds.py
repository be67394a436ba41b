"""Round announcements between the wire and :class:`RoundAnnouncement` (with each seat's
:class:`Member` and the signed :class:`RoundParams`), beside :mod:`mpcrec.proto.convert`."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from mpcrec.errors import ConfigError
from mpcrec.federation.announcement import Member, Phase, RoundAnnouncement
from mpcrec.federation.refusals import InvalidMessage
from mpcrec.federation.round_params import DEFAULT_MODEL, RoundParams
from mpcrec.proto import federation_pb2 as pb

NO_ROUND = "none"  # the state GetRound answers before the first round opens


def _member_to_pb(member: Member) -> Any:
    return pb.Member(
        instance_id=member.instance_id,
        rank=member.rank,
        sealing_key=member.sealing_key,
        signing_key=member.signing_key,
        mpc_address=member.mpc_address,
        certificate=member.certificate,
        key_binding=member.key_binding,
    )


def _member_from_pb(msg: Any) -> Member:
    return Member(
        msg.instance_id,
        msg.rank,
        msg.sealing_key,
        msg.signing_key,
        msg.mpc_address,
        msg.certificate,
        msg.key_binding,
    )


def _params_from_pb(msg: Any) -> RoundParams | None:
    """The announced round parameters (``None`` when absent; unusable ones are refused)."""
    if not msg.aggregation:
        return None
    try:
        data = {f.name: getattr(msg, f.name) for f in fields(RoundParams)}
        return RoundParams.from_json({**data, "model": data["model"] or DEFAULT_MODEL})
    except ConfigError as err:
        raise InvalidMessage(f"announced round parameters: {err.message}") from err


def announcement_to_pb(ann: RoundAnnouncement | None) -> Any:
    """``RoundAnnouncement`` (state ``none`` before the first round)."""
    if ann is None:
        return pb.RoundAnnouncement(round_id=0, state=NO_ROUND)
    return pb.RoundAnnouncement(
        round_id=ann.round_id,
        model_version=ann.model_version,
        state=ann.phase.value,
        deadline=ann.deadline,
        participants=list(ann.participants),
        committee=[_member_to_pb(m) for m in ann.committee],
        dealer=_member_to_pb(ann.dealer) if ann.dealer is not None else None,
        seed=ann.seed,
        contributors=list(ann.contributors),
        weights=list(ann.weights),
        reason=ann.reason,
        published_version=ann.published_version,
        model_hash=ann.model_hash,
        digests=list(ann.digests),
        beacon_round=ann.beacon_round,
        beacon_at=ann.beacon_at,
        params=pb.RoundParams(**ann.params.to_json()) if ann.params else None,
        params_hash=ann.params_hash,
        catalogue_version=ann.catalogue_version,
        catalogue_hash=ann.catalogue_hash,
        catalogue_rows=ann.catalogue_rows,
    )


def announcement_from_pb(msg: Any) -> RoundAnnouncement | None:
    """From ``RoundAnnouncement`` (``None`` before the first round)."""
    if msg.state == NO_ROUND:
        return None
    try:
        phase = Phase(msg.state)
    except ValueError as err:
        raise InvalidMessage(f"round {msg.round_id}: unknown state {msg.state!r}") from err
    return RoundAnnouncement(
        round_id=msg.round_id,
        model_version=msg.model_version,
        phase=phase,
        deadline=msg.deadline,
        participants=tuple(msg.participants),
        committee=tuple(_member_from_pb(m) for m in msg.committee),
        dealer=_member_from_pb(msg.dealer) if msg.dealer.instance_id else None,
        seed=msg.seed,
        contributors=tuple(msg.contributors),
        weights=tuple(msg.weights),
        reason=msg.reason,
        published_version=msg.published_version,
        model_hash=msg.model_hash,
        digests=tuple(msg.digests),
        beacon_round=msg.beacon_round,
        beacon_at=msg.beacon_at,
        params=_params_from_pb(msg.params),
        params_hash=msg.params_hash,
        catalogue_version=msg.catalogue_version,
        catalogue_hash=msg.catalogue_hash,
        catalogue_rows=msg.catalogue_rows,
    )
