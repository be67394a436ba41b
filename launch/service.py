"""The launcher's gRPC service: thin handlers over :class:`~launch.launcher.Launcher`, on
an asynchronous server.

Each handler names the caller by its client certificate (:func:`mpcrec.federation.tls.caller_id`),
turns the request into plain values (:mod:`mpcrec.proto.convert`), calls the launcher, and
maps a refusal to a status (:func:`mpcrec.proto.convert.status_code`): ``UNAUTHENTICATED``
(no instance certificate), ``PERMISSION_DENIED`` (not registered, or registering as someone
else), ``FAILED_PRECONDITION`` (not allowed in the round's state), ``ALREADY_EXISTS`` (a
duplicate or replayed message), ``INVALID_ARGUMENT`` (malformed).

Concurrency (docs/architecture.md, "The launcher's concurrency model"): the server is
``grpc.aio`` on one event loop (:class:`LauncherServer`, in a thread of its own). Calls that
last (watching rounds, uploads, share and model streams) are coroutines: no thread is held
per watching node or per slow stream. What touches the launcher (its store, its audit log,
signature checks) runs in one bounded pool of ``workers`` threads, the gRPC
``migration_thread_pool``; the short unary handlers are plain functions that gRPC runs there
(so a sync servicer, such as another service registered on the same server, still works).
The launcher's lock makes every write one at a time: one writer to SQLite and the log.
Two answers need nothing from the launcher and skip the pool for a caller the service has
already found registered (registrations are never undone): an upload's first check, before
its stream is read, and ``GetModel``'s kept chunks of the version every instance fetches.

The log checks (``GetTreeHead``, ``GetInclusionProof``, or both in one ``GetLogProofs``:
every node sends them at the end of each round, a thousand nodes at the same moment) are
coroutines too: at most :data:`LOG_CHECKS_AT_ONCE` of them are in the pool at once, the
others wait on the event loop, so the time-bound calls (commitments, reveals, uploads,
results: refused once their window has passed) never queue behind thousands of log checks
in the pool's queue. Their work still takes the launcher's lock (:mod:`launch.launcher_log`),
though it only reads: the log shares the store's one SQLite connection, so a read while a
writer's transaction is open would see its uncommitted rows (a head or a proof over an entry
a full disk may still roll back), and the log's in-memory tree and caches change with every
append and are rebuilt after a rollback. Each holds the lock for an O(log n) read per entry;
the bound keeps at most a few waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent import futures
from typing import Any, TypeVar

import grpc

from launch import catalogue_service
from launch.admission import (
    check_caller,
    check_registration,
    check_upload,
    max_envelope,
)
from launch.announce import announcement
from launch.launcher import Launcher
from launch.listen import listen_on
from launch.round import Round
from launch.round_feed import RoundFeed
from launch.watch_bytes import add_launcher
from mpcrec.crypto.pki import CertPaths
from mpcrec.errors import ProtocolError
from mpcrec.federation.contribution import Envelope, UploadReceipt
from mpcrec.federation.registration import Registered
from mpcrec.federation.tls import GRPC_OPTIONS, caller_id, server_credentials
from mpcrec.proto import convert, convert_rounds
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc

WATCH_HEARTBEAT_S = 1.0
WATCH_IDLE_S = 10.0  # an idle watcher's backstop check (launch.round_feed.RoundFeed)
WATCH_STALL_S = 60.0  # a watcher that takes no announcement for this long is let go
UPLOADS_AT_ONCE = 32  # uploads read at the same time; the others wait (gRPC flow control)
LOG_CHECKS_AT_ONCE = 3  # tree heads and inclusion proofs in the pool at once (< its size)
#: The launcher process's garbage-collector thresholds (Python's: 700, 10, 10). A thousand
#: watchers are a thousand live calls and coroutines, and every call allocates; with the
#: default thresholds the collector, scanning them again and again, took a quarter of the
#: launcher's CPU at N = 1,000 (py-spy --native, docs/benchmarks/federation.md).
GC_THRESHOLDS = (50_000, 20, 10)
T = TypeVar("T")


@contextlib.contextmanager
def _refusals(context: grpc.ServicerContext) -> Iterator[None]:
    """Abort the call with the status of any refusal raised inside (sync handlers)."""
    try:
        yield
    except ProtocolError as err:
        context.abort(convert.status_code(err), str(err))
        raise AssertionError("unreachable") from err  # context.abort raises


async def _upload_chunks(request_iterator: AsyncIterator[Any], limit: int) -> list[Any]:
    """An upload stream's messages: the header, then body chunks until the sizes the header
    announces are exceeded (never more than ``limit`` bytes per envelope are read)."""
    first = await anext(request_iterator, None)
    if first is None or not first.HasField("header"):
        return [] if first is None else [first]
    sizes = list(first.header.sizes)
    expected = sum(sizes) if all(0 <= s <= limit for s in sizes) else -1
    chunks, received = [first], 0
    if expected < 0:
        return chunks
    async for chunk in request_iterator:
        chunks.append(chunk)
        received += len(chunk.data)
        if received > expected:
            break
    return chunks


class LauncherService(pb_grpc.LauncherServicer):  # type: ignore[misc]
    """gRPC handlers; every one is tied to the registered instance calling it.

    Plain methods run in the server's worker pool; coroutines on its event loop, handing
    each piece of work on the launcher to the pool (:meth:`_pooled`)."""

    def __init__(self, launcher: Launcher, pool: futures.ThreadPoolExecutor) -> None:
        self.launcher = launcher
        self.pool = pool
        self.feed = RoundFeed(
            launcher,
            self._render,
            heartbeat_s=WATCH_HEARTBEAT_S,
            idle_s=WATCH_IDLE_S,
            on_delivered=launcher.on_event,  # the "announced" events
        )
        self._uploads = asyncio.Semaphore(UPLOADS_AT_ONCE)
        self._log_checks = asyncio.Semaphore(LOG_CHECKS_AT_ONCE)  # the pool keeps room
        self._model: tuple[int, dict[bool, list[Any]]] = (-1, {})  # the last model, in chunks
        self._admitted: set[str] = set()  # callers found registered (never unregistered)

    def _caller(self, context: Any, *, registered: bool = True) -> str:
        """The calling instance's id, if it may call; a refusal (``ProtocolError``) if not."""
        who = check_caller(self.launcher, caller_id(context), registered=registered)
        if registered:
            self._admitted.add(who)  # found registered: a registration is never undone
        return who

    def _known(self, context: Any) -> bool:
        """Whether the caller was found registered before (checked on the loop, no pool)."""
        return caller_id(context) in self._admitted

    async def _uploader(self, context: Any) -> None:
        """The caller of an upload, checked before its stream is read: on the loop if it was
        found registered before, else in the pool. Only a first filter: :meth:`_contribute`
        checks the caller again before anything is kept."""
        if not self._known(context):
            await self._pooled(context, self._caller, context)

    def _render(self, rnd: Round) -> bytes:
        """The announcement of ``rnd``, serialised once for every watcher (``WatchRounds``
        sends these bytes as they are: :func:`launch.watch_bytes.add_launcher`)."""
        message = convert_rounds.announcement_to_pb(announcement(self.launcher, rnd))
        return bytes(message.SerializeToString())

    async def _pooled(self, context: Any, work: Callable[..., T], *args: Any) -> T:
        """``work(*args)`` in the worker pool; a refusal it raises aborts the call."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.pool, work, *args)
        except ProtocolError as err:
            await context.abort(convert.status_code(err), str(err))
            raise AssertionError("unreachable") from err  # context.abort raises

    async def _stream(self, context: Any, messages: list[Any]) -> None:
        for message in messages:
            await context.write(message)

    def Register(self, request: Any, context: grpc.ServicerContext) -> Any:
        with _refusals(context):
            who = self._caller(context, registered=False)
            registration = convert.registration_from_pb(request)
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
        with _refusals(context):
            self._caller(context)
        return convert_rounds.announcement_to_pb(
            announcement(self.launcher, self.launcher.current())
        )

    async def WatchRounds(self, request: Any, context: Any) -> None:
        watcher = await self._pooled(context, self._caller, context)
        async for message in self.feed.watch(
            request.after_round, active=lambda: not context.done(), watcher=watcher
        ):
            try:
                async with asyncio.timeout(WATCH_STALL_S):  # no task per write
                    await context.write(message)
            except TimeoutError:
                return  # it does not read; it will watch again when it does

    def SubmitCommit(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.feed.handled("SubmitCommit")  # when, for the "announced" events
        with _refusals(context):
            who = self._caller(context)
            self.launcher.commit(who, request.round_id, request.commitment, request.entry_signature)
        return pb.Ack(detail="commitment stored")

    def SubmitReveal(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.feed.handled("SubmitReveal")
        with _refusals(context):
            who = self._caller(context)
            self.launcher.reveal(who, request.round_id, request.secret)
        return pb.Ack(detail="reveal stored")

    async def UploadContribution(self, request_iterator: AsyncIterator[Any], context: Any) -> Any:
        await self._uploader(context)  # no hop to the pool once a caller is known
        async with self._uploads:
            chunks = await _upload_chunks(request_iterator, max_envelope(self.launcher))
            return await self._pooled(context, self._contribute, chunks, context)

    def _contribute(self, chunks: list[Any], context: Any) -> Any:
        who = self._caller(context)
        upload, signature = convert.contribution_from_chunks(
            iter(chunks), contributor=who, max_envelope=max_envelope(self.launcher)
        )
        check_upload(self.launcher, upload)
        self.launcher.contribute(upload, signature)
        return convert.receipt_to_pb(UploadReceipt(upload.round_id, upload.digest, upload.size))

    async def FetchShares(self, request: Any, context: Any) -> None:
        def shares() -> list[Any]:
            found = self.launcher.shares_for(self._caller(context), request.round_id)
            return list(convert.envelope_chunks(Envelope(*share) for share in found))

        await self._stream(context, await self._pooled(context, shares))

    def SubmitResult(self, request: Any, context: grpc.ServicerContext) -> Any:
        with _refusals(context):
            who = self._caller(context)
            self.launcher.submit_result(convert.result_from_pb(request, member=who))
        return pb.Ack(detail="result stored")

    def _kept_chunks(self, request: Any) -> list[Any] | None:
        """The chunks of the model ``request`` names, if they are the ones kept (the
        version every instance fetches in a round), else ``None``."""
        version, forms = self._model  # per form: shared result once (new nodes) or not
        found = forms.get(request.shared_result)
        return found if request.version >= 0 and request.version == version else None

    async def GetModel(self, request: Any, context: Any) -> None:
        def chunks() -> list[Any]:
            self._caller(context)
            version, forms = self._model
            shared = request.shared_result
            found = self._kept_chunks(request)
            if found is None:
                model = self.launcher.model(request.version)  # a version never changes
                found = list(convert.model_chunks(model, shared_result=shared))
                kept = forms if model.version == version else {}
                self._model = (model.version, {**kept, shared: found})  # all ask the same
            return found

        self.feed.handled("GetModel")
        kept = self._kept_chunks(request) if self._known(context) else None
        if kept is None:  # kept chunks of a known caller are sent without the pool
            kept = await self._pooled(context, chunks)
        await self._stream(context, kept)

    async def GetTreeHead(self, request: Any, context: Any) -> Any:
        def head() -> Any:
            self._caller(context)
            return convert.tree_head_to_pb(*self.launcher.tree_head(request.known_size))

        async with self._log_checks:  # waiting here holds no thread of the pool
            return await self._pooled(context, head)

    async def GetInclusionProof(self, request: Any, context: Any) -> Any:
        def proof() -> Any:
            self._caller(context)
            found = self.launcher.inclusion_proof(request.entry_signature, request.tree_size)
            return convert.inclusion_to_pb(found[0], request.tree_size, found[1])

        async with self._log_checks:
            return await self._pooled(context, proof)

    async def GetLogProofs(self, request: Any, context: Any) -> Any:
        def proofs() -> Any:
            self._caller(context)
            signatures = list(request.entry_signatures)
            return convert.log_proofs_to_pb(
                *self.launcher.log_proofs(request.known_size, signatures)
            )

        async with self._log_checks:  # one of the log checks: the same bound
            return await self._pooled(context, proofs)


def add_services(server: Any, launcher: Launcher, pool: futures.ThreadPoolExecutor) -> RoundFeed:
    """Register the launcher's services on ``server``; the round feed its watchers read."""
    service = LauncherService(launcher, pool)
    add_launcher(server, service)
    catalogue_service.add_to_server(server, launcher)  # the Catalogue service, if any
    return service.feed


class LauncherServer:
    """The launcher's mutual-TLS gRPC server, running on an event loop in its own thread.

    Parameters
    ----------
    launcher, address, tls:
        What to serve, on which ``host:port``, with which certificate.
    workers:
        Threads of the worker pool (every call's work on the launcher runs there).
    """

    def __init__(self, launcher: Launcher, address: str, tls: CertPaths, *, workers: int) -> None:
        self.pool = futures.ThreadPoolExecutor(workers, thread_name_prefix="launcher-rpc")
        self._loop = asyncio.new_event_loop()
        self._stopping: asyncio.Event | None = None
        self._grace: float | None = None
        self.stopped = threading.Event()
        started: futures.Future[None] = futures.Future()
        self._thread = threading.Thread(
            target=self._run,
            args=(self._serve(launcher, address, tls, started),),
            name="launcher-aio",
            daemon=True,
        )
        self._thread.start()
        started.result(timeout=30)  # raises what made the start fail

    def _run(self, serving: Any) -> None:
        try:
            self._loop.run_until_complete(serving)
        finally:
            self._loop.close()

    async def _serve(
        self, launcher: Launcher, address: str, tls: CertPaths, started: futures.Future[None]
    ) -> None:
        try:
            self._stopping = asyncio.Event()
            server = grpc.aio.server(migration_thread_pool=self.pool, options=GRPC_OPTIONS)
            feed = add_services(server, launcher, self.pool)
            listen_on(server, address, server_credentials(tls))
            await server.start()
        except BaseException as err:
            started.set_exception(err)
            self._finish()
            return
        started.set_result(None)
        reading = asyncio.create_task(feed.run())
        await self._stopping.wait()
        feed.close()
        await server.stop(self._grace)
        reading.cancel()
        self._finish()

    def _finish(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.stopped.set()

    def stop(self, grace: float | None = None) -> threading.Event:
        """Stop serving (calls in flight get ``grace`` seconds); set once stopped."""
        if self._stopping is not None and not self.stopped.is_set():
            self._grace = grace
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                self._loop.call_soon_threadsafe(self._stopping.set)
        return self.stopped


def collect_less() -> None:
    """For a launcher process, once started: what it holds already (modules, config, the
    store's caches) is left out of every collection (``gc.freeze``), and the collector runs
    at :data:`GC_THRESHOLDS` (garbage cycles are still collected, less often)."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve(launcher: Launcher, address: str, tls: CertPaths, *, workers: int = 16) -> LauncherServer:
    """Start the launcher's mutual-TLS gRPC server on ``address`` (``host:port``)."""
    return LauncherServer(launcher, address, tls, workers=workers)
