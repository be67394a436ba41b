"""The launcher's gRPC service: thin handlers over :class:`~launch.launcher.Launcher`.

Each handler names the caller by its client certificate (:func:`mpcrec.federation.tls.caller_id`),
turns the request into plain values (:mod:`mpcrec.proto.convert`), calls the launcher, and
maps a refusal to a status (:func:`mpcrec.proto.convert.status_code`): ``UNAUTHENTICATED``
(no instance certificate), ``PERMISSION_DENIED`` (not registered, or registering as someone
else), ``FAILED_PRECONDITION`` (not allowed in the round's state), ``ALREADY_EXISTS`` (a
duplicate or replayed message), ``INVALID_ARGUMENT`` (malformed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc

from launch import catalogue_service
from launch.admission import (
    check_caller,
    check_registration,
    check_upload,
    max_envelope,
)
from launch.announce import announcement, watch
from launch.launcher import Launcher
from mpcrec.crypto.pki import CertPaths
from mpcrec.errors import ProtocolError
from mpcrec.federation.contribution import Envelope, UploadReceipt
from mpcrec.federation.registration import Registered
from mpcrec.federation.tls import GRPC_OPTIONS, caller_id, server_credentials
from mpcrec.proto import convert, convert_rounds
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc

WATCH_HEARTBEAT_S = 1.0


@contextlib.contextmanager
def _refusals(context: grpc.ServicerContext) -> Iterator[None]:
    """Abort the call with the status of any refusal raised inside."""
    try:
        yield
    except ProtocolError as err:
        context.abort(convert.status_code(err), str(err))
        raise AssertionError("unreachable") from err  # context.abort raises


class LauncherService(pb_grpc.LauncherServicer):  # type: ignore[misc]
    """gRPC handlers; every one is tied to the registered instance calling it."""

    def __init__(self, launcher: Launcher) -> None:
        self.launcher = launcher

    def _caller(self, context: grpc.ServicerContext, *, registered: bool = True) -> str:
        with _refusals(context):
            return check_caller(self.launcher, caller_id(context), registered=registered)

    def Register(self, request: Any, context: grpc.ServicerContext) -> Any:
        who = self._caller(context, registered=False)
        registration = convert.registration_from_pb(request)
        with _refusals(context):
            check_registration(who, registration)
            self.launcher.register(
                who,
                registration.signing_key,
                registration.sealing_key,
                registration.mpc_address,
                registration.entry_signature,
                certificate=registration.certificate,
                key_binding=registration.key_binding,
            )
        launcher = self.launcher
        return convert.registered_to_pb(
            Registered(
                instance_id=who,
                launcher_key=launcher.launcher_key,
                model_version=launcher.model(-1).version,
                spec=launcher.spec,
                committee_size=launcher.policy.committee_size,
                min_contributors=launcher.policy.min_contributors,
            )
        )

    def GetRound(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._caller(context)
        return convert_rounds.announcement_to_pb(
            announcement(self.launcher, self.launcher.current())
        )

    def WatchRounds(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._caller(context)
        changes = watch(
            self.launcher,
            request.after_round,
            active=context.is_active,
            heartbeat_s=WATCH_HEARTBEAT_S,
        )
        for ann in changes:
            yield convert_rounds.announcement_to_pb(ann)

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
        with _refusals(context):
            upload, signature = convert.contribution_from_chunks(
                request_iterator, contributor=who, max_envelope=max_envelope(self.launcher)
            )
            check_upload(self.launcher, upload)
            self.launcher.contribute(upload, signature)
        return convert.receipt_to_pb(UploadReceipt(upload.round_id, upload.digest, upload.size))

    def FetchShares(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        who = self._caller(context)
        with _refusals(context):
            found = self.launcher.shares_for(who, request.round_id)
        yield from convert.envelope_chunks(Envelope(*share) for share in found)

    def SubmitResult(self, request: Any, context: grpc.ServicerContext) -> Any:
        who = self._caller(context)
        with _refusals(context):
            self.launcher.submit_result(convert.result_from_pb(request, member=who))
        return pb.Ack(detail="result stored")

    def GetModel(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._caller(context)
        with _refusals(context):
            model = self.launcher.model(request.version)
        yield from convert.model_chunks(model)

    def GetTreeHead(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._caller(context)
        with _refusals(context):
            head, proof = self.launcher.tree_head(request.known_size)
        return convert.tree_head_to_pb(head, proof)

    def GetInclusionProof(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._caller(context)
        with _refusals(context):
            index, path = self.launcher.inclusion_proof(request.entry_signature, request.tree_size)
        return convert.inclusion_to_pb(index, request.tree_size, path)


def serve(launcher: Launcher, address: str, tls: CertPaths, *, workers: int = 64) -> grpc.Server:
    """Start the launcher's mutual-TLS gRPC server on ``address`` (``host:port``)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="launcher-rpc"),
        options=GRPC_OPTIONS,
    )
    pb_grpc.add_LauncherServicer_to_server(LauncherService(launcher), server)
    catalogue_service.add_to_server(server, launcher)  # the Catalogue service, if any
    if server.add_secure_port(address, server_credentials(tls)) == 0:
        raise ProtocolError(
            f"cannot listen on {address}", hint="is the port in use? choose another one"
        )
    server.start()
    return server
