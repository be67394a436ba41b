"""One process of ``mpcrec bench federation``: many instances' protocol clients on one loop.

``python -m mpcrec.bench.federation_load PLAN.json INDEX`` runs the instances named in the
plan's ``groups[INDEX]`` (:mod:`mpcrec.bench.federation`), each on its own mutual-TLS
connection with its own certificate from the federation CA and its own node keys, and
writes what happened to ``PLAN.json``'s ``out_dir/load-INDEX.json``. Each instance does
what a node's daemon does in a plaintext round, with the node's own code
(:mod:`mpcrec.node.messages`, :class:`~mpcrec.node.aggregation.plaintext.
PlaintextAggregation`, :func:`~mpcrec.node.signed_weights.signed_weights`):

1. registers (keys, certificate, key binding), then watches the rounds (``WatchRounds``);
2. ``open``: a signed seed commitment; ``revealing``: the reveal;
3. ``collecting``: seals a small random update (norm below ``clip_norm``) of the base
   model for each member, uploads it signed;
4. ``computing``, if drawn: fetches its envelopes, computes the plaintext aggregate and
   signs the next model (simulated members: no CrypTen; the same result a node sends);
5. at each round's end: the latest tree head and the inclusion proofs of its own entries
   (what a node's log watch asks for; the proofs are not checked here; not after the round
   publishing the plan's last model, when the launcher exits), in a task of its own beside
   the next round's steps, as a node's log watch runs beside its rounds (at ``open`` once
   its commitment is answered, as a node commits before it checks the log): one
   ``GetLogProofs`` call (the plan's ``one_log_call``, the default), or ``GetTreeHead`` and
   a ``GetInclusionProof`` per entry (``--log-calls separate``: a launcher without
   ``GetLogProofs``);
6. after each step, as a serving node follows the newest model (``Node._follow_model``: every
   trainer builds snapshots), it fetches the newest model an announcement names the first
   time it is named, in a task beside its rounds: the next round's base model arrives with
   the round's end, not in ``collecting`` (the plan's ``follow_models``, the default;
   ``--model-fetch collecting``: fetched only when a round collects, as before).

Each instance notes when it received each round state and when its call for that state was
answered (wall clock, as the launcher's events): the benchmark reports from these where a
round's time goes (:mod:`mpcrec.bench.federation_timing`).

Left out (client-side work, not the launcher's): certificate-chain checks of other
instances' keys, beacon checks, the privacy floor. Parsed announcements are shared by the
instances of one process (the launcher still sends one stream per instance).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import traceback
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import grpc
import numpy as np

from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.pki import CertPaths
from mpcrec.federation.announcement import Phase, RoundAnnouncement
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.registration import Registered
from mpcrec.federation.tls import GRPC_OPTIONS, channel_credentials
from mpcrec.files import write_atomic
from mpcrec.node import messages
from mpcrec.node.aggregation.plaintext import PlaintextAggregation
from mpcrec.node.key_check import own_binding
from mpcrec.node.signed_weights import signed_weights
from mpcrec.proto import convert, convert_rounds
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc

CALL_S = 120.0


class Crowd:
    """What the instances of one process share: the plan, parsed announcements, tallies."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.rounds = int(plan["rounds"])
        self.one_log_call = bool(plan.get("one_log_call", True))  # GetLogProofs; else 1 + n
        self.follow_models = bool(plan.get("follow_models", True))  # as a serving node
        self.errors: list[str] = []
        self.calls: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._parsed: dict[tuple[Any, ...], RoundAnnouncement] = {}
        # "round:state" -> when each instance received it, sent its call for it (commitment,
        # reveal, upload) and had it answered
        self.received: dict[str, list[float]] = {}
        self.started: dict[str, list[float]] = {}
        self.answered: dict[str, list[float]] = {}
        self.refused_at: dict[str, list[float]] = {}  # and when a call for it was refused
        self.lag: list[tuple[float, float]] = []  # (when, how late) this loop ran, if > 50 ms

    def note(self, times: dict[str, list[float]], ann: RoundAnnouncement) -> None:
        """The wall-clock time now, for ``ann``'s round and state (the launcher's events
        carry the same clock: :mod:`mpcrec.bench.federation_timing`)."""
        times.setdefault(f"{ann.round_id}:{ann.phase.value}", []).append(time.time())

    def parse(self, msg: Any) -> RoundAnnouncement:
        """``msg`` as an announcement (one parse per round state and process)."""
        key = (msg.round_id, msg.state, len(msg.contributors), len(msg.committee), msg.reason)
        if key not in self._parsed:
            if len(self._parsed) > 64:
                self._parsed.clear()
            found = convert_rounds.announcement_from_pb(msg)
            assert found is not None
            self._parsed[key] = found
        return self._parsed[key]


class Instance:
    """One simulated instance: its keys, certificate, connection and round steps."""

    def __init__(self, name: str, crowd: Crowd) -> None:
        pki = Path(crowd.plan["pki"])
        self.name, self.crowd = name, crowd
        self.tls = CertPaths(pki / f"{name}.pem", pki / f"{name}.key", pki / "ca" / "ca.pem")
        self.keys = NodeKeys.load_or_create(pki / "keys" / name)
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.registered: Registered | None = None
        self.secrets: dict[int, bytes] = {}
        self.signed: dict[int, list[bytes]] = {}  # round -> own entry signatures
        self.models: dict[int, asyncio.Task[PublishedModel]] = {}  # the newest two fetches
        self.done: set[tuple[int, str]] = set()
        self.known_size = 0
        self.watching: set[asyncio.Task[None]] = set()  # its log checks under way

    async def call(self, rpc: str, request: Any) -> Any:
        """A unary call, counted; a refusal is counted as one and re-raised."""
        self.crowd.calls[rpc] += 1
        try:
            return await getattr(self.stub, rpc)(request, timeout=CALL_S)
        except grpc.aio.AioRpcError as err:
            self.crowd.refused[f"{rpc}: {err.code().name}"] += 1
            raise

    async def run(self) -> None:
        """Register, then follow the rounds until the plan's last one has ended."""
        async with grpc.aio.secure_channel(
            self.crowd.plan["launcher"], channel_credentials(self.tls), options=GRPC_OPTIONS
        ) as channel:
            self.stub: Any = pb_grpc.LauncherStub(channel)
            bound = own_binding(self.tls, self.name, self.keys)
            reg = messages.registration(self.name, self.keys, "127.0.0.1:1", bound)
            reply = await self.call("Register", convert.registration_to_pb(reg))
            self.registered = convert.registered_from_pb(reply)
            while not await self._watch():
                await asyncio.sleep(0.5)  # the stream ended early: watch again, as a node does
            if self.watching:  # its log checks still under way end before its connection
                await asyncio.wait(self.watching, timeout=CALL_S)
            for fetch in self.models.values():
                fetch.cancel()  # a model not needed any more (done ones are unchanged)

    async def _watch(self) -> bool:
        """One ``WatchRounds`` stream; whether the plan's number of models is published (that
        last round's log is not checked: the launcher exits then)."""
        self.crowd.calls["WatchRounds"] += 1
        try:
            async for msg in self.stub.WatchRounds(pb.WatchRequest(after_round=1)):
                ann = self.crowd.parse(msg)
                if ann.newest_model >= self.crowd.rounds:  # the plan's rounds are published
                    return True
                await self.step(ann)
                if self.crowd.follow_models:
                    self.follow(ann)
        except grpc.aio.AioRpcError as err:
            self.crowd.refused[f"WatchRounds: {err.code().name}"] += 1
        return False

    async def step(self, ann: RoundAnnouncement) -> None:
        """This instance's part of the round in ``ann``'s state (each once)."""
        key = (ann.round_id, ann.phase.value)
        if key in self.done:
            return
        self.done.add(key)
        self.crowd.note(self.crowd.received, ann)
        rid = ann.round_id
        ended = [r for r in self.signed if r < rid or (r == rid and ann.phase.terminal)]
        if ended and ann.phase is not Phase.OPEN:  # as a node's log watch, once a round has ended
            self.watch_log(ended)
        try:
            if ann.phase is Phase.OPEN and self.name in ann.participants:
                secret = messages.fresh_secret()
                value, sig = messages.seed_commit(self.name, self.keys, rid, secret)
                commit = pb.SeedCommit(round_id=rid, commitment=value, entry_signature=sig)
                self.crowd.note(self.crowd.started, ann)
                await self.call("SubmitCommit", commit)
                self.secrets[rid] = secret  # accepted: reveal it, find it in the log
                self.signed.setdefault(rid, []).append(sig)
            elif ann.phase is Phase.REVEALING and rid in self.secrets:
                reveal = pb.SeedReveal(round_id=rid, secret=self.secrets[rid])
                self.crowd.note(self.crowd.started, ann)
                await self.call("SubmitReveal", reveal)
            elif ann.phase is Phase.COLLECTING and rid in self.secrets:
                await self.contribute(ann)
            elif ann.phase is Phase.COMPUTING and self.name in ann.members:
                await self.compute(ann)
            else:
                return
            self.crowd.note(self.crowd.answered, ann)
        except grpc.aio.AioRpcError as err:
            self.crowd.note(self.crowd.refused_at, ann)
            self.crowd.errors.append(f"{self.name} round {rid} {ann.phase}: {err.details()}")
        except Exception:  # the harness itself failed: reported, never a silent pass
            self.crowd.errors.append(f"{self.name} round {rid}: {traceback.format_exc()}")
        finally:
            if ended and ann.phase is Phase.OPEN:  # after its commitment, as a node does
                self.watch_log(ended)

    def watch_log(self, ended: list[int]) -> None:
        """Check the log of the rounds ``ended`` in a task beside the rounds."""
        checking = asyncio.create_task(self.check_log(ended))
        self.watching.add(checking)
        checking.add_done_callback(self.watching.discard)

    def follow(self, ann: RoundAnnouncement) -> None:
        """Start fetching the newest model ``ann`` names, the first time it is named (a
        serving node's ``_follow_model``, after its step), in a task beside the rounds: the
        next announcement is read, and its call sent, meanwhile (the instances of one process
        share a loop; a node's daemon has its own)."""
        fetch, new = self._fetch(ann.newest_model)
        if new:
            fetch.add_done_callback(self._fetched)

    def _fetched(self, fetch: asyncio.Task[PublishedModel]) -> None:
        if not fetch.cancelled() and fetch.exception() is not None:
            self.crowd.errors.append(f"{self.name} model fetch: {fetch.exception()}")

    def _fetch(self, version: int) -> tuple[asyncio.Task[PublishedModel], bool]:
        """The fetch of model ``version`` (started now if none is under way or done, or
        the last one failed); whether it was started now."""
        fetch = self.models.get(version)
        if fetch is not None and not (fetch.done() and fetch.exception() is not None):
            return fetch, False
        fetch = asyncio.ensure_future(self._get_model(version))
        self.models = {v: f for v, f in self.models.items() if v >= version - 1}
        self.models[version] = fetch
        return fetch, True

    async def _get_model(self, version: int) -> PublishedModel:
        self.crowd.calls["GetModel"] += 1
        request = pb.GetModelRequest(version=version, shared_result=True)
        chunks = [c async for c in self.stub.GetModel(request)]
        return convert.model_from_chunks(chunks)

    async def model(self, version: int) -> PublishedModel:
        """A published model, fetched once (awaiting the fetch under way, if any)."""
        return await asyncio.shield(self._fetch(version)[0])

    async def contribute(self, ann: RoundAnnouncement) -> None:
        """A small random update, sealed for each member, uploaded signed."""
        assert self.registered is not None and ann.params is not None
        spec = self.registered.spec
        base = await self.model(ann.model_version)
        update = self.rng.normal(size=base.array().shape)
        update *= 0.5 * spec.clip_norm / float(np.linalg.norm(update))
        digest = ann.params.digest
        envelopes = PlaintextAggregation(spec, self.name).seal(
            update, ann, weight=1.0, params_hash=digest
        )
        upload, sig = messages.contribution(self.name, self.keys, ann, envelopes, 1.0, digest)
        self.crowd.calls["UploadContribution"] += 1
        self.crowd.note(self.crowd.started, ann)
        await self.stub.UploadContribution(
            iter(list(convert.contribution_chunks(upload, sig))), timeout=CALL_S
        )
        self.signed.setdefault(ann.round_id, []).append(sig)

    async def compute(self, ann: RoundAnnouncement) -> None:
        """As a committee member: the plaintext aggregate of its envelopes, signed."""
        assert self.registered is not None and ann.params is not None
        self.crowd.calls["FetchShares"] += 1
        request = pb.FetchSharesRequest(round_id=ann.round_id)
        chunks = [c async for c in self.stub.FetchShares(request, timeout=CALL_S)]
        streamed: list[Envelope] = convert.envelopes_from_chunks(chunks)
        aggregation = PlaintextAggregation(self.registered.spec, self.name)
        envelopes, weights = signed_weights(ann, streamed, ann.params, aggregation.signed_terms)
        base = await self.model(ann.model_version)
        nxt, accepted = aggregation.compute(ann, envelopes, base, None)
        model = PublishedModel.from_array(ann.model_version + 1, nxt)
        result = messages.result(self.name, self.keys, ann, model, accepted, ann.params, weights)
        await self.call("SubmitResult", convert.result_to_pb(result))
        self.signed.setdefault(ann.round_id, []).append(result.signature)

    async def check_log(self, rounds: list[int]) -> None:
        """The latest tree head, and where its own entries of ``rounds`` are in it."""
        signed = {r: self.signed.pop(r, []) for r in rounds}
        for round_id in rounds:
            self.secrets.pop(round_id, None)
        mine = [signature for signatures in signed.values() for signature in signatures]
        try:
            if self.crowd.one_log_call:  # the head and every proof in one call
                request = pb.LogProofsRequest(known_size=self.known_size, entry_signatures=mine)
                head, _proof, proofs = convert.log_proofs_from_pb(
                    await self.call("GetLogProofs", request)
                )
                if len(proofs) != len(mine):
                    raise ValueError(f"{len(proofs)} proofs for {len(mine)} entries")
                self.known_size = max(self.known_size, head.size)
                return
            reply = await self.call("GetTreeHead", pb.TreeHeadRequest(known_size=self.known_size))
            head, _proof = convert.tree_head_from_pb(reply)
            self.known_size = max(self.known_size, head.size)
            for signature in mine:
                request = pb.InclusionRequest(entry_signature=signature, tree_size=head.size)
                await self.call("GetInclusionProof", request)
        except grpc.aio.AioRpcError as err:
            self.crowd.errors.append(f"{self.name} log check of {rounds}: {err.details()}")
        except Exception:  # the harness itself failed: reported, never a silent pass
            self.crowd.errors.append(f"{self.name} log check: {traceback.format_exc()}")


async def _sample_lag(crowd: Crowd, tick_s: float = 0.05) -> None:
    """Note when this process's loop ran more than ``tick_s`` late (until cancelled)."""
    while True:
        asked = time.monotonic()
        await asyncio.sleep(tick_s)
        late = time.monotonic() - asked - tick_s
        if late > tick_s:
            crowd.lag.append((time.time(), round(late, 4)))


async def run_group(plan: dict[str, Any], index: int) -> dict[str, Any]:
    """Run the instances of group ``index`` to the end of the plan, or until SIGTERM (the
    launcher has exited: an instance that missed the last announcement stops then and is
    counted ``unfinished``); what happened."""
    crowd = Crowd(plan)
    names = plan["groups"][index]
    started = time.monotonic()
    told = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, told.set)
    tasks = {
        asyncio.create_task(asyncio.wait_for(Instance(n, crowd).run(), plan["timeout_s"])): n
        for n in names
    }
    told_task: asyncio.Future[Any] = asyncio.ensure_future(told.wait())
    sampling = asyncio.create_task(_sample_lag(crowd))
    pending: set[asyncio.Future[Any]] = set(tasks)
    while pending and not told.is_set():
        _, pending = await asyncio.wait(pending | {told_task}, return_when="FIRST_COMPLETED")
        pending.discard(told_task)
    for task in pending:
        task.cancel()
    told_task.cancel()
    sampling.cancel()
    for task, name in tasks.items():
        if task.cancelled() or task in pending:
            continue
        if task.exception() is not None:
            crowd.errors.append(f"{name}: {type(task.exception()).__name__}: {task.exception()}")
    return {
        "group": index,
        "instances": len(names),
        "unfinished": len(pending),
        "seconds": time.monotonic() - started,
        "errors": crowd.errors,
        "calls": dict(crowd.calls),
        "refused": dict(crowd.refused),
        "received": crowd.received,
        "started": crowd.started,
        "answered": crowd.answered,
        "refused_at": crowd.refused_at,
        "loop_lag": crowd.lag,
    }


def main(argv: list[str]) -> int:
    """``PLAN.json INDEX``: run one group, write ``load-INDEX.json`` next to the plan's out."""
    plan = json.loads(Path(argv[0]).read_text())
    index = int(argv[1])
    result = asyncio.run(run_group(plan, index))
    out = Path(plan["out_dir"]) / f"load-{index}.json"
    write_atomic(out, (json.dumps(result, indent=1) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
