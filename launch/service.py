"""The launcher's gRPC service: thin handlers over :class:`~launch.launcher.Launcher`.

Each handler names the caller by its client certificate (:func:`mpcrec.federation.tls.caller_id`),
turns the request into plain values, calls the launcher, and maps a refusal to a status:
``UNAUTHENTICATED`` (no instance certificate), ``PERMISSION_DENIED`` (not registered, or
registering as someone else), ``FAILED_PRECONDITION`` (not allowed in the round's state),
``ALREADY_EXISTS`` (a duplicate or replayed message), ``INVALID_ARGUMENT`` (malformed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent import futures
from typing import Any, NoReturn

import grpc

from launch.launcher import Launcher
from launch.round import Round, RoundStateError
from launch.store import Contribution, MemberResult, StoreConflict
from mpcrec.crypto.pki import CertPaths
from mpcrec.errors import ProtocolError
from mpcrec.federation.tls import CHUNK, GRPC_OPTIONS, caller_id, server_credentials
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc

WATCH_HEARTBEAT_S = 1.0


def _refuse(context: grpc.ServicerContext, err: ProtocolError) -> NoReturn:
    if isinstance(err, StoreConflict):
        code = grpc.StatusCode.ALREADY_EXISTS
    elif isinstance(err, RoundStateError):
        code = grpc.StatusCode.FAILED_PRECONDITION
    else:
        code = grpc.StatusCode.INVALID_ARGUMENT
    context.abort(code, str(err))
    raise AssertionError("unreachable")  # context.abort raises


@contextlib.contextmanager
def _refusals(context: grpc.ServicerContext) -> Iterator[None]:
    try:
        yield
    except ProtocolError as err:
        _refuse(context, err)


class LauncherService(pb_grpc.LauncherServicer):  # type: ignore[misc]
    """gRPC handlers; every one is tied to the registered instance calling it."""

    def __init__(self, launcher: Launcher) -> None:
        self.launcher = launcher

    # -- identity ---------------------------------------------------------------------------

    def _caller(self, context: grpc.ServicerContext, *, registered: bool = True) -> str:
        who = caller_id(context)
        if not who:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "no instance certificate")
        if registered and self.launcher.store.get_instance(who) is None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"{who} is not registered")
        return who

    # -- handlers -----------------------------------------------------------------------------

    def Register(self, request: Any, context: grpc.ServicerContext) -> Any:
        who = self._caller(context, registered=False)
        if request.instance_id != who:
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"certificate names {who!r}, request says {request.instance_id!r}",
            )
        with _refusals(context):
            self.launcher.register(
                who,
                request.signing_key,
                request.sealing_key,
                request.mpc_address,
                request.entry_signature,
            )
        spec, policy = self.launcher.spec, self.launcher.policy
        return pb.RegisterReply(
            instance_id=who,
            launcher_key=self.launcher.launcher_key,
            model_version=self.launcher.model(-1).version,
            spec=pb.FederationSpec(
                n_items=spec.n_items,
                dim=spec.dim,
                committee_size=policy.committee_size,
                min_contributors=policy.min_contributors,
                aggregation=spec.aggregation,
                server_lr=spec.server_lr,
                server_momentum=spec.server_momentum,
                clip_norm=spec.clip_norm,
                range_bound=spec.range_bound,
                noise_multiplier=spec.noise_multiplier,
            ),
        )

    def GetRound(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._caller(context)
        return self._announcement(self.launcher.current())

    def WatchRounds(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._caller(context)
        generation, last = -1, None
        while context.is_active() and not self.launcher.stopping.is_set():
            rnd = self.launcher.current()
            if rnd is not None and rnd.round_id >= request.after_round and rnd != last:
                last = rnd
                yield self._announcement(rnd)
            generation = self.launcher.wait_for_change(generation, WATCH_HEARTBEAT_S)

    def SubmitCommit(self, request: Any, context: grpc.ServicerContext) -> Any:
        who = self._caller(context)
        with _refusals(context):
            self.launcher.commit(who, request.round_id, request.commitment, request.entry_signature)
        return pb.Ack(detail="commitment stored")

    def SubmitReveal(self, request: Any, context: grpc.ServicerContext) -> Any:
        who = self._caller(context)
        with _refusals(context):
            self.launcher.reveal(who, request.round_id, request.secret)
        return pb.Ack(detail="reveal stored")

    def UploadContribution(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Any:
        who = self._caller(context)
        first = next(request_iterator, None)
        if first is None or not first.HasField("header"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be a header")
            raise AssertionError("unreachable")
        header = first.header
        limit = 16 * self.launcher.spec.size + 65536
        sizes = list(header.sizes)
        if len(sizes) != len(header.recipients) or any(s < 0 or s > limit for s in sizes):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"envelope sizes {sizes} for {len(header.recipients)} recipients "
                f"(each at most {limit} bytes)",
            )
        body = bytearray()
        for chunk in request_iterator:
            body += chunk.data
            if len(body) > sum(sizes):
                break
        if len(body) != sum(sizes):
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"received {len(body)} bytes, the header announced {sum(sizes)}",
            )
        envelopes, offset = {}, 0
        for member, size in zip(header.recipients, sizes, strict=True):
            envelopes[member] = bytes(body[offset : offset + size])
            offset += size
        upload = Contribution(header.round_id, who, header.weight, envelopes)
        if not header.weight > 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"weight {header.weight} must be > 0")
        with _refusals(context):
            self.launcher.contribute(upload, header.entry_signature)
        return pb.UploadReceipt(
            round_id=header.round_id, digest=upload.digest, bytes_received=upload.size
        )

    def FetchShares(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        who = self._caller(context)
        with _refusals(context):
            found = self.launcher.shares_for(who, request.round_id)
        for contributor, weight, signing_key, blob in found:
            yield pb.ShareChunk(
                contributor=contributor,
                weight=weight,
                size=len(blob),
                signing_key=signing_key,
                data=blob[:CHUNK],
            )
            for start in range(CHUNK, len(blob), CHUNK):
                yield pb.ShareChunk(data=blob[start : start + CHUNK])

    def SubmitResult(self, request: Any, context: grpc.ServicerContext) -> Any:
        who = self._caller(context)
        result = MemberResult(
            round_id=request.round_id,
            member=who,
            ok=request.ok,
            reason=request.reason,
            model_hash=request.model_hash,
            accepted=tuple(request.accepted),
            signature=request.signature,
            model=request.model,
        )
        with _refusals(context):
            self.launcher.submit_result(result)
        return pb.Ack(detail="result stored")

    def GetModel(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._caller(context)
        with _refusals(context):
            model = self.launcher.model(request.version)
        head = {"version": model.version, "n_items": model.n_items, "dim": model.dim}
        yield pb.ModelChunk(**head, model_hash=model.model_hash, data=model.data[:CHUNK])
        for start in range(CHUNK, len(model.data), CHUNK):
            yield pb.ModelChunk(data=model.data[start : start + CHUNK])

    def GetTreeHead(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._caller(context)
        with _refusals(context):
            head, proof = self.launcher.tree_head(request.known_size)
        return pb.TreeHeadReply(
            size=head.size, root=head.root, signature=head.signature, consistency=proof
        )

    # -- announcements -------------------------------------------------------------------------

    def _member(self, instance_id: str, rank: int) -> Any:
        inst = self.launcher.store.get_instance(instance_id)
        if inst is None:
            return pb.Member(instance_id=instance_id, rank=rank)
        return pb.Member(
            instance_id=instance_id,
            rank=rank,
            sealing_key=inst.sealing_key,
            signing_key=inst.signing_key,
            mpc_address=inst.mpc_address,
        )

    def _announcement(self, rnd: Round | None) -> Any:
        if rnd is None:
            return pb.RoundAnnouncement(round_id=0, state="none")
        base = self.launcher.store.get_model(rnd.model_version)
        digests = self.launcher.store.digests(rnd.round_id) if rnd.contributors else {}
        return pb.RoundAnnouncement(
            round_id=rnd.round_id,
            model_version=rnd.model_version,
            state=rnd.phase.value,
            deadline=rnd.deadline,
            participants=list(rnd.participants),
            committee=[self._member(m, r) for r, m in enumerate(rnd.committee)],
            dealer=self._member(rnd.dealer, len(rnd.committee)) if rnd.dealer else None,
            seed=rnd.seed,
            contributors=list(rnd.contributors),
            weights=list(rnd.weights),
            reason=rnd.reason,
            published_version=rnd.published_version,
            model_hash=base.model_hash if base else b"",
            digests=[digests.get(c, b"") for c in rnd.contributors],
        )


def serve(launcher: Launcher, address: str, tls: CertPaths, *, workers: int = 64) -> grpc.Server:
    """Start the launcher's mutual-TLS gRPC server on ``address`` (``host:port``)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="launcher-rpc"),
        options=GRPC_OPTIONS,
    )
    pb_grpc.add_LauncherServicer_to_server(LauncherService(launcher), server)
    if server.add_secure_port(address, server_credentials(tls)) == 0:
        raise ProtocolError(
            f"cannot listen on {address}", hint="is the port in use? choose another one"
        )
    server.start()
    return server
