"""Every conversion between the wire (:file:`federation.proto`) and the plain dataclasses
the launcher and the nodes speak, and between refusals and gRPC status codes.

Both sides use this module: :mod:`launch.service` (the servicer) and
:mod:`mpcrec.node.grpc_client` (the node's client), so a field is read the way it was
written. Models, contributions and envelopes travel in chunks of at most
:data:`~mpcrec.federation.tls.CHUNK` bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import grpc

from mpcrec.audit.entries import TreeHead
from mpcrec.errors import ProtocolError
from mpcrec.federation.committee_wire import committee_from_wire, committee_to_wire
from mpcrec.federation.contribution import Contribution, Envelope, UploadReceipt
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.refusals import (
    Anonymous,
    InvalidMessage,
    LauncherError,
    LauncherUnreachable,
    NotPermitted,
    RegisterAgain,
    RoundStateError,
    StoreConflict,
)
from mpcrec.federation.registration import Registered, Registration
from mpcrec.federation.result import MemberResult
from mpcrec.federation.round_params import DEFAULT_MODEL, EASE_FIELDS
from mpcrec.federation.spec import FederationSpec
from mpcrec.federation.tls import CHUNK
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto.faults import UNREACHABLE, launcher_fault

# -- refusals ---------------------------------------------------------------------------------

_CODES: tuple[tuple[type[LauncherError], grpc.StatusCode], ...] = (
    (StoreConflict, grpc.StatusCode.ALREADY_EXISTS),
    (RoundStateError, grpc.StatusCode.FAILED_PRECONDITION),
    (Anonymous, grpc.StatusCode.UNAUTHENTICATED),
    (NotPermitted, grpc.StatusCode.PERMISSION_DENIED),
    (RegisterAgain, grpc.StatusCode.ABORTED),  # the parameters changed: register again
    (LauncherUnreachable, grpc.StatusCode.UNAVAILABLE),  # e.g. its disk is full
)


def status_code(err: ProtocolError) -> grpc.StatusCode:
    """The status a refusal travels as (``INVALID_ARGUMENT`` for any other ProtocolError)."""
    for kind, code in _CODES:
        if isinstance(err, kind):
            return code
    return grpc.StatusCode.INVALID_ARGUMENT


def refusal(err: grpc.RpcError) -> LauncherError:
    """The refusal a failed call stands for; no answer at all is :class:`LauncherUnreachable`,
    any other status a :class:`~mpcrec.federation.refusals.LauncherFault` (:mod:`.faults`)."""
    code = err.code()
    details = err.details() or str(code)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        return InvalidMessage(details)
    for kind, known in _CODES:
        if code is known:
            return kind(details)
    if code in UNREACHABLE:
        return LauncherUnreachable(f"{code.name}: {details}")
    return launcher_fault(code, details)


# -- registration -----------------------------------------------------------------------------


def registration_to_pb(reg: Registration) -> Any:
    """``RegisterRequest``."""
    return pb.RegisterRequest(
        instance_id=reg.instance_id,
        signing_key=reg.signing_key,
        sealing_key=reg.sealing_key,
        mpc_address=reg.mpc_address,
        entry_signature=reg.entry_signature,
        certificate=reg.certificate,
        key_binding=reg.key_binding,
    )


def registration_from_pb(msg: Any) -> Registration:
    """From ``RegisterRequest``."""
    return Registration(
        msg.instance_id,
        msg.signing_key,
        msg.sealing_key,
        msg.mpc_address,
        msg.entry_signature,
        msg.certificate,
        msg.key_binding,
    )


def registered_to_pb(reply: Registered) -> Any:
    """``RegisterReply``."""
    spec = reply.spec
    return pb.RegisterReply(
        instance_id=reply.instance_id,
        launcher_key=reply.launcher_key,
        model_version=reply.model_version,
        spec=pb.FederationSpec(
            n_items=spec.n_items,
            dim=spec.dim,
            committee_size=reply.committee_size,
            min_contributors=reply.min_contributors,
            aggregation=spec.aggregation,
            server_lr=spec.server_lr,
            server_momentum=spec.server_momentum,
            clip_norm=spec.clip_norm,
            range_bound=spec.bound,
            noise_multiplier=spec.noise_multiplier,
            max_weight=spec.max_weight,
            sensitivity=spec.sensitivity,
            user_clip_norm=spec.user_clip_norm,
            user_rate=spec.user_rate,
            model=spec.model,
            count_noise_multiplier=spec.count_noise_multiplier,
            **{name: getattr(spec, name) for name in EASE_FIELDS},
        ),
    )


def spec_user_level(s: Any) -> dict[str, Any]:
    """The user-level fields and model kind of a ``FederationSpec`` message (none from an
    older launcher; an empty model kind reads as ``"mf"``)."""
    kind: dict[str, Any] = {"model": s.model or DEFAULT_MODEL}
    if s.count_noise_multiplier:
        kind["count_noise_multiplier"] = s.count_noise_multiplier
    if s.ease_slice_values:
        kind.update({n: getattr(s, n) for n in EASE_FIELDS})
    if not s.sensitivity:
        return kind
    return {
        **kind,
        "sensitivity": s.sensitivity,
        "user_clip_norm": s.user_clip_norm,
        "user_rate": s.user_rate,
    }


def registered_from_pb(msg: Any) -> Registered:
    """From ``RegisterReply`` (a spec the node cannot use raises a ConfigError)."""
    s = msg.spec
    spec = FederationSpec(
        n_items=s.n_items,
        dim=s.dim,
        aggregation=s.aggregation,
        server_lr=s.server_lr,
        server_momentum=s.server_momentum,
        clip_norm=s.clip_norm,
        range_bound=s.range_bound,
        noise_multiplier=s.noise_multiplier,
        max_weight=s.max_weight,
        **spec_user_level(s),
    )
    return Registered(
        instance_id=msg.instance_id,
        launcher_key=msg.launcher_key,
        model_version=msg.model_version,
        spec=spec,
        committee_size=s.committee_size,
        min_contributors=s.min_contributors,
    )


# -- contributions and envelopes --------------------------------------------------------------


def contribution_chunks(contribution: Contribution, signature: bytes) -> Iterator[Any]:
    """``ContributionChunk`` stream: the header, then the envelopes' bytes in chunks."""
    recipients = list(contribution.envelopes)
    header = pb.ContributionHeader(
        round_id=contribution.round_id,
        weight=contribution.weight,
        recipients=recipients,
        sizes=[len(contribution.envelopes[m]) for m in recipients],
        entry_signature=signature,
        params_hash=contribution.params_hash,
    )
    yield pb.ContributionChunk(header=header)
    body = b"".join(contribution.envelopes[m] for m in recipients)
    for start in range(0, len(body), CHUNK):
        yield pb.ContributionChunk(data=body[start : start + CHUNK])


def contribution_from_chunks(
    chunks: Iterator[Any], *, contributor: str, max_envelope: int
) -> tuple[Contribution, bytes]:
    """The upload of ``contributor`` and its signature, read from a ``ContributionChunk``
    stream; :class:`InvalidMessage` for a stream without a header first, envelope sizes above
    ``max_envelope``, or a body of another length than the header announced."""
    first = next(chunks, None)
    if first is None or not first.HasField("header"):
        raise InvalidMessage("the first message must be a header")
    header = first.header
    sizes = list(header.sizes)
    if len(sizes) != len(header.recipients) or any(s < 0 or s > max_envelope for s in sizes):
        raise InvalidMessage(
            f"envelope sizes {sizes} for {len(header.recipients)} recipients "
            f"(each at most {max_envelope} bytes)"
        )
    body = bytearray()
    for chunk in chunks:
        body += chunk.data
        if len(body) > sum(sizes):
            break
    if len(body) != sum(sizes):
        raise InvalidMessage(f"received {len(body)} bytes, the header announced {sum(sizes)}")
    envelopes, offset = {}, 0
    for member, size in zip(header.recipients, sizes, strict=True):
        envelopes[member] = bytes(body[offset : offset + size])
        offset += size
    upload = Contribution(
        header.round_id, contributor, header.weight, envelopes, params_hash=header.params_hash
    )
    return upload, header.entry_signature


def receipt_to_pb(receipt: UploadReceipt) -> Any:
    """``UploadReceipt``."""
    return pb.UploadReceipt(
        round_id=receipt.round_id, digest=receipt.digest, bytes_received=receipt.size
    )


def receipt_from_pb(msg: Any) -> UploadReceipt:
    """From ``UploadReceipt``."""
    return UploadReceipt(msg.round_id, msg.digest, msg.bytes_received)


def envelope_chunks(envelopes: Iterable[Envelope]) -> Iterator[Any]:
    """``ShareChunk`` stream: each envelope's first chunk names its sender, weight and key."""
    for env in envelopes:
        yield pb.ShareChunk(
            contributor=env.contributor,
            weight=env.weight,
            size=len(env.data),
            signing_key=env.signing_key,
            sealing_key=env.sealing_key,
            certificate=env.certificate,
            key_binding=env.key_binding,
            data=env.data[:CHUNK],
        )
        for start in range(CHUNK, len(env.data), CHUNK):
            yield pb.ShareChunk(data=env.data[start : start + CHUNK])


def envelopes_from_chunks(chunks: Iterable[Any]) -> list[Envelope]:
    """From a ``ShareChunk`` stream, in the order sent."""
    heads: list[Any] = []
    bodies: list[bytearray] = []
    for chunk in chunks:
        if chunk.contributor:
            heads.append(chunk)
            bodies.append(bytearray())
        if not bodies:
            raise InvalidMessage("a share chunk before any envelope's first chunk")
        bodies[-1] += chunk.data
    return [
        Envelope(
            h.contributor,
            h.weight,
            h.signing_key,
            bytes(b),
            h.sealing_key,
            h.certificate,
            h.key_binding,
        )
        for h, b in zip(heads, bodies, strict=True)
    ]


# -- results, models, tree heads --------------------------------------------------------------


def result_to_pb(result: MemberResult) -> Any:
    """``RoundResult`` (the member is the caller: it does not travel)."""
    return pb.RoundResult(
        round_id=result.round_id,
        ok=result.ok,
        reason=result.reason,
        model=result.model,
        model_hash=result.model_hash,
        accepted=list(result.accepted),
        signature=result.signature,
        params_hash=result.params_hash,
        weights=list(result.weights),
        gram_slice=result.gram_slice,
        slice_hash=result.slice_hash,
    )


def result_from_pb(msg: Any, *, member: str) -> MemberResult:
    """From ``RoundResult`` sent by ``member``."""
    return MemberResult(
        round_id=msg.round_id,
        member=member,
        ok=msg.ok,
        reason=msg.reason,
        model_hash=msg.model_hash,
        accepted=tuple(msg.accepted),
        signature=msg.signature,
        model=msg.model,
        params_hash=msg.params_hash,
        weights=tuple(msg.weights),
        gram_slice=msg.gram_slice,
        slice_hash=msg.slice_hash,
    )


def model_chunks(model: PublishedModel, *, shared_result: bool = False) -> Iterator[Any]:
    """``ModelChunk`` stream: the first chunk carries the version, shape and hash, and the
    committee's signatures (with ``shared_result``, the members' common result once:
    :mod:`mpcrec.federation.committee_wire`); a Gram release's slice follows the model."""
    result, signatures = committee_to_wire(model.committee, compact=shared_result)
    yield pb.ModelChunk(
        version=model.version,
        n_items=model.n_items,
        dim=model.dim,
        model_hash=model.model_hash,
        data=model.data[:CHUNK],
        committee_signatures=signatures,
        committee_result=result,
    )
    for start in range(CHUNK, len(model.data), CHUNK):
        yield pb.ModelChunk(data=model.data[start : start + CHUNK])
    for start in range(0, len(model.gram_slice), CHUNK):  # a Gram release's round's slice
        yield pb.ModelChunk(gram_slice=model.gram_slice[start : start + CHUNK])


def model_from_chunks(chunks: Iterable[Any]) -> PublishedModel:
    """From a ``ModelChunk`` stream (the caller compares its hash with the announced one)."""
    head, data, gram = None, bytearray(), bytearray()
    for chunk in chunks:
        head = head or chunk
        data += chunk.data
        gram += chunk.gram_slice
    if head is None:
        raise InvalidMessage("an empty model stream")
    committee = committee_from_wire(head.committee_result, head.committee_signatures)
    return PublishedModel(
        head.version, head.n_items, head.dim, bytes(data), committee, gram_slice=bytes(gram)
    )


def tree_head_to_pb(head: TreeHead, proof: list[bytes]) -> Any:
    """``TreeHeadReply``."""
    return pb.TreeHeadReply(
        size=head.size,
        root=head.root,
        signature=head.signature,
        consistency=proof,
        timestamp=head.timestamp or 0,
    )


def tree_head_from_pb(msg: Any) -> tuple[TreeHead, list[bytes]]:
    """From ``TreeHeadReply``: the head and the consistency proof."""
    head = TreeHead(msg.size, msg.root, msg.signature, msg.timestamp or None)
    return head, list(msg.consistency)


def inclusion_to_pb(index: int, tree_size: int, path: list[bytes]) -> Any:
    """``InclusionReply``."""
    return pb.InclusionReply(index=index, tree_size=tree_size, path=path)


def inclusion_from_pb(msg: Any) -> tuple[int, list[bytes]]:
    """From ``InclusionReply``: the entry's index and its audit path."""
    return int(msg.index), list(msg.path)


def log_proofs_to_pb(
    head: TreeHead, consistency: list[bytes], proofs: list[tuple[int, list[bytes]]]
) -> Any:
    """``LogProofsReply``: the head (as ``GetTreeHead``) and each entry's place in its tree."""
    return pb.LogProofsReply(
        head=tree_head_to_pb(head, consistency),
        proofs=[inclusion_to_pb(index, head.size, path) for index, path in proofs],
    )


def log_proofs_from_pb(
    msg: Any,
) -> tuple[TreeHead, list[bytes], list[tuple[int, list[bytes]]]]:
    """From ``LogProofsReply``: the head, its consistency proof, each ``(index, path)``."""
    head, consistency = tree_head_from_pb(msg.head)
    return head, consistency, [inclusion_from_pb(p) for p in msg.proofs]
