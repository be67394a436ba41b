"""The node's launcher client over gRPC with mutual TLS (:file:`federation.proto`).

Messages are converted by :mod:`mpcrec.proto.convert`; a failed call raises the refusal its
status stands for (:mod:`mpcrec.federation.refusals`), a call that got no answer
:class:`~mpcrec.federation.refusals.LauncherUnreachable`, an answer that does not convert
:class:`~mpcrec.federation.refusals.MalformedAnswer` (the launcher answered, but not in the
protocol: the node does not take it for a refusal of the launcher's).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import grpc

from mpcrec.audit.entries import TreeHead
from mpcrec.crypto.pki import CertPaths
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.contribution import Contribution, Envelope, UploadReceipt
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.refusals import InvalidMessage, LauncherUnreachable, MalformedAnswer
from mpcrec.federation.registration import Registered, Registration
from mpcrec.federation.result import MemberResult
from mpcrec.federation.tls import secure_channel
from mpcrec.proto import convert, convert_rounds
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc

CALL_TIMEOUT_S = 30.0


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except grpc.RpcError as err:
        raise convert.refusal(err) from err
    except InvalidMessage as err:  # the answer's conversion (convert.*_from_pb)
        raise MalformedAnswer(err.message, hint=err.hint) from err
    except ValueError as err:  # grpc: "Cannot invoke RPC on closed channel!"
        raise LauncherUnreachable(str(err)) from err


class GrpcLauncherClient:
    """:class:`~mpcrec.federation.launcher_client.LauncherClient` over a mutual-TLS channel.

    Parameters
    ----------
    address:
        The launcher's ``host:port``.
    tls:
        This instance's certificate and key, and the federation's CA.
    """

    def __init__(self, address: str, tls: CertPaths) -> None:
        self._channel = secure_channel(address, tls)
        self._stub: Any = pb_grpc.LauncherStub(self._channel)
        self._lock = threading.Lock()
        self._watches: list[Any] = []

    def register(self, registration: Registration) -> Registered:
        with _refusals():
            request = convert.registration_to_pb(registration)
            reply = self._stub.Register(request, timeout=CALL_TIMEOUT_S)
            return convert.registered_from_pb(reply)

    def current_round(self) -> RoundAnnouncement | None:
        with _refusals():
            reply = self._stub.GetRound(pb.GetRoundRequest(), timeout=CALL_TIMEOUT_S)
            return convert_rounds.announcement_from_pb(reply)

    def watch_rounds(self, after_round: int = 0) -> Iterator[RoundAnnouncement]:
        with _refusals():
            call = self._stub.WatchRounds(pb.WatchRequest(after_round=after_round))
            with self._lock:
                self._watches.append(call)
            try:
                for msg in call:
                    ann = convert_rounds.announcement_from_pb(msg)
                    if ann is not None:
                        yield ann
            finally:
                with self._lock:
                    self._watches.remove(call)

    def commit(self, round_id: int, commitment: bytes, signature: bytes) -> None:
        request = pb.SeedCommit(round_id=round_id, commitment=commitment, entry_signature=signature)
        with _refusals():
            self._stub.SubmitCommit(request, timeout=CALL_TIMEOUT_S)

    def reveal(self, round_id: int, secret: bytes) -> None:
        with _refusals():
            self._stub.SubmitReveal(
                pb.SeedReveal(round_id=round_id, secret=secret), timeout=CALL_TIMEOUT_S
            )

    def upload_contribution(self, contribution: Contribution, signature: bytes) -> UploadReceipt:
        chunks = convert.contribution_chunks(contribution, signature)
        with _refusals():
            return convert.receipt_from_pb(
                self._stub.UploadContribution(chunks, timeout=CALL_TIMEOUT_S)
            )

    def fetch_shares(self, round_id: int) -> list[Envelope]:
        request = pb.FetchSharesRequest(round_id=round_id)
        with _refusals():
            return convert.envelopes_from_chunks(
                self._stub.FetchShares(request, timeout=CALL_TIMEOUT_S)
            )

    def submit_result(self, result: MemberResult) -> None:
        with _refusals():
            self._stub.SubmitResult(convert.result_to_pb(result), timeout=CALL_TIMEOUT_S)

    def get_model(self, version: int) -> PublishedModel:
        request = pb.GetModelRequest(version=version, shared_result=True)
        with _refusals():
            return convert.model_from_chunks(self._stub.GetModel(request, timeout=CALL_TIMEOUT_S))

    def tree_head(self, known_size: int) -> tuple[TreeHead, list[bytes]]:
        request = pb.TreeHeadRequest(known_size=known_size)
        with _refusals():
            return convert.tree_head_from_pb(
                self._stub.GetTreeHead(request, timeout=CALL_TIMEOUT_S)
            )

    def inclusion_proof(self, entry_signature: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        request = pb.InclusionRequest(entry_signature=entry_signature, tree_size=tree_size)
        with _refusals():
            return convert.inclusion_from_pb(
                self._stub.GetInclusionProof(request, timeout=CALL_TIMEOUT_S)
            )

    def log_proofs(
        self, known_size: int, signatures: list[bytes]
    ) -> tuple[TreeHead, list[bytes], list[tuple[int, list[bytes]]]]:
        request = pb.LogProofsRequest(known_size=known_size, entry_signatures=signatures)
        try:
            reply = self._stub.GetLogProofs(request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as err:
            if err.code() is grpc.StatusCode.UNIMPLEMENTED:  # a launcher from before it
                raise NotImplementedError("the launcher has no GetLogProofs") from err
            raise convert.refusal(err) from err
        return convert.log_proofs_from_pb(reply)

    def close(self) -> None:
        with self._lock:
            watches = list(self._watches)
        for call in watches:
            call.cancel()
        self._channel.close()
