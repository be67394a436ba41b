"""A launcher client over a :class:`~launch.launcher.Launcher` in the same process.

The in-memory twin of :class:`mpcrec.node.grpc_client.GrpcLauncherClient` (as Flower's
``InMemoryGrid`` is of its ``GrpcGrid``): a node driven through it follows the same rounds,
meets the same refusals (:mod:`mpcrec.federation.refusals`) and publishes the same models,
without sockets, certificates or processes. Like the gRPC service it speaks for one instance
only, the one it was made for: identity fields a caller fills in are replaced by it (the wire
does not carry them either), and a registration in another name is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator

from launch.admission import check_caller, check_registration, check_upload
from launch.announce import announcement, watch
from launch.launcher import Launcher
from launch.launcher_log import MAX_LOG_PROOFS
from mpcrec.audit.entries import TreeHead
from mpcrec.errors import ProtocolError
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.contribution import Contribution, Envelope, UploadReceipt
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.refusals import InvalidMessage, LauncherError, LauncherUnreachable
from mpcrec.federation.registration import Registered, Registration
from mpcrec.federation.result import MemberResult

HEARTBEAT_S = 0.05


@contextlib.contextmanager
def _as_refusals() -> Iterator[None]:
    """Raise the launcher's refusals as the gRPC client would see them."""
    try:
        yield
    except LauncherError:
        raise
    except ProtocolError as err:
        raise InvalidMessage(err.message, hint=err.hint) from err


class InProcessLauncherClient:
    """:class:`~mpcrec.federation.launcher_client.LauncherClient` for ``instance_id`` over
    ``launcher``.

    Parameters
    ----------
    launcher:
        The launcher, in this process (its scheduler may run in a thread or be driven by
        :meth:`~launch.launcher.Launcher.advance`).
    instance_id:
        The instance this client speaks for, as a certificate would name it.
    """

    def __init__(self, launcher: Launcher, instance_id: str) -> None:
        self.launcher = launcher
        self.instance_id = instance_id
        self._closed = threading.Event()

    def _me(self, *, registered: bool = True) -> str:
        if self._closed.is_set():
            raise LauncherUnreachable(f"{self.instance_id}: the client is closed")
        return check_caller(self.launcher, self.instance_id, registered=registered)

    def register(self, registration: Registration) -> Registered:
        me = self._me(registered=False)
        check_registration(me, registration)
        with _as_refusals():
            self.launcher.register(
                me,
                registration.signing_key,
                registration.sealing_key,
                registration.mpc_address,
                registration.entry_signature,
                certificate=registration.certificate,
                key_binding=registration.key_binding,
            )
            return Registered(
                instance_id=me,
                launcher_key=self.launcher.launcher_key,
                model_version=self.launcher.model(-1).version,
                spec=self.launcher.spec,
                committee_size=self.launcher.policy.committee_size,
                min_contributors=self.launcher.policy.min_contributors,
            )

    def current_round(self) -> RoundAnnouncement | None:
        self._me()
        return announcement(self.launcher, self.launcher.current())

    def watch_rounds(self, after_round: int = 0) -> Iterator[RoundAnnouncement]:
        self._me()
        active = lambda: not self._closed.is_set()  # noqa: E731
        yield from watch(self.launcher, after_round, active=active, heartbeat_s=HEARTBEAT_S)

    def commit(self, round_id: int, commitment: bytes, signature: bytes) -> None:
        me = self._me()
        with _as_refusals():
            self.launcher.commit(me, round_id, commitment, signature)

    def reveal(self, round_id: int, secret: bytes) -> None:
        me = self._me()
        with _as_refusals():
            self.launcher.reveal(me, round_id, secret)

    def upload_contribution(self, contribution: Contribution, signature: bytes) -> UploadReceipt:
        upload = dataclasses.replace(contribution, contributor=self._me())
        with _as_refusals():
            check_upload(self.launcher, upload)
            self.launcher.contribute(upload, signature)
        return UploadReceipt(upload.round_id, upload.digest, upload.size)

    def fetch_shares(self, round_id: int) -> list[Envelope]:
        me = self._me()
        with _as_refusals():
            return [Envelope(*share) for share in self.launcher.shares_for(me, round_id)]

    def submit_result(self, result: MemberResult) -> None:
        mine = dataclasses.replace(result, member=self._me())
        with _as_refusals():
            self.launcher.submit_result(mine)

    def get_model(self, version: int) -> PublishedModel:
        self._me()
        with _as_refusals():
            return self.launcher.model(version)

    def tree_head(self, known_size: int) -> tuple[TreeHead, list[bytes]]:
        self._me()
        with _as_refusals():
            return self.launcher.tree_head(known_size)

    def inclusion_proof(self, entry_signature: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        self._me()
        with _as_refusals():
            return self.launcher.inclusion_proof(entry_signature, tree_size)

    def log_proofs(
        self, known_size: int, signatures: list[bytes]
    ) -> tuple[TreeHead, list[bytes], list[tuple[int, list[bytes]]]]:
        if len(signatures) > MAX_LOG_PROOFS:  # as the launcher's own: its two calls, composed
            raise InvalidMessage(f"{len(signatures)} entries, at most {MAX_LOG_PROOFS}")
        head, consistency = self.tree_head(known_size)
        return head, consistency, [self.inclusion_proof(s, head.size) for s in signatures]

    def close(self) -> None:
        self._closed.set()
