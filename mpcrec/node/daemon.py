"""The instance daemon: registers, follows the launcher's rounds, contributes, serves when drawn.

Per round, driven by the launcher's announcements (:rpc:`WatchRounds`):

* ``open``: commit to a fresh 32-byte secret (:func:`committees.seed.commitment`);
* ``revealing``: reveal it;
* ``collecting``: download the round's base model, train at home, seal one envelope per
  member and upload them in chunks;
* ``computing``, when on the committee: download the envelopes addressed to this instance,
  compute the next model and return it with a signature.

The node's users' embeddings and interactions never leave it: only envelopes do. A broken
connection (the launcher restarting) is retried with backoff; every step is idempotent
(a repeated message is refused by the launcher as ``ALREADY_EXISTS`` and counted as done).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import grpc
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from committees.seed import commitment
from mpcrec.audit import entries
from mpcrec.audit.entries import TreeHead
from mpcrec.audit.log import ForkDetected, TreeHeadStore
from mpcrec.crypto.keys import NodeKeys
from mpcrec.errors import ProtocolError, RoundAborted
from mpcrec.federation.contribution import envelopes_digest
from mpcrec.federation.plain import seal_plain
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.result import result_entry
from mpcrec.federation.spec import FederationSpec
from mpcrec.federation.tls import CHUNK, secure_channel
from mpcrec.files import write_atomic
from mpcrec.model.server import ServerSGD, clip_to_norm
from mpcrec.node.config import NodeConfig
from mpcrec.node.duty import Envelope, plain_round
from mpcrec.node.trainer import DriftTrainer, Matrix, Trainer
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from mpcrec.node.http_api import ApiServer
    from mpcrec.node.recommender import Recommender

log = logging.getLogger("mpcrec.node")
CALL_TIMEOUT_S = 30.0
SNAPSHOT_FILE = "snapshot.npz"
CLIP_MARGIN = 0.999  # clip a little inside the bound: fixed-point rounding must not reject
LAUNCHER_KEY_FILE = "launcher.pub"
HEADS_FILE = "tree_heads.jsonl"
BENIGN = (grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION)


def trainer_from_config(config: NodeConfig) -> Trainer:
    """The trainer the config names."""
    from mpcrec.node.config import MovieLensTrainerConfig, PeerTubeTrainerConfig

    trainer = config.trainer
    if isinstance(trainer, MovieLensTrainerConfig):
        from mpcrec.node.movielens_trainer import MovieLensTrainer

        return MovieLensTrainer.from_config(trainer, state_dir=config.state_dir)
    if isinstance(trainer, PeerTubeTrainerConfig):
        from mpcrec.node.peertube_trainer import PeerTubeTrainer

        return PeerTubeTrainer.from_config(config)
    return DriftTrainer(
        config.instance_id, rate=trainer.rate, weight=trainer.weight, scale=trainer.scale
    )


class Node:
    """One instance's daemon.

    Parameters
    ----------
    config:
        Identity, launcher address, TLS files, state directory.
    trainer:
        Local training (default: the one the config names).
    """

    def __init__(self, config: NodeConfig, trainer: Trainer | None = None) -> None:
        self.config = config
        self.me = config.instance_id
        self.trainer = trainer or trainer_from_config(config)
        self.keys = NodeKeys.load_or_create(config.state_dir / "keys")
        self.spec: FederationSpec | None = None
        self._secrets: dict[int, bytes] = {}
        self._done: set[tuple[int, str]] = set()
        self._models: dict[int, PublishedModel] = {}
        self._call: Any = None
        self._seat: Any = None
        self._served = 0  # newest model version written as a snapshot
        self.heads: TreeHeadStore | None = None
        self.forked = ""  # set when the launcher showed two histories
        self.min_contributors = 1
        self.mpc_timeout_s = config.mpc_timeout_s
        self.recommender: Recommender | None = None  # serving in-process (peertube.listen)
        self.api: ApiServer | None = None
        if config.serve_http and config.peertube is not None:
            from mpcrec.node.http_api import ApiServer
            from mpcrec.node.recommender import Recommender

            self.recommender = Recommender()
            settings = config.peertube
            self.api = ApiServer(
                self.recommender, host=settings.listen_host, port=settings.listen_port
            )

    # -- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Follow the launcher until ``stop`` is set, reconnecting after failures."""
        threading.Thread(target=self._cancel_on, args=(stop,), daemon=True).start()
        if self.api is not None:
            self.api.start()  # 503 until the first published model
        backoff = 0.2
        while not stop.is_set():
            channel = secure_channel(self.config.launcher, self.config.tls)
            try:
                stub = pb_grpc.LauncherStub(channel)
                self._register(stub)
                backoff = 0.2
                self._follow(stub, stop)
            except grpc.RpcError as err:
                if not stop.is_set():
                    log.warning("%s: launcher unreachable (%s); retrying", self.me, err.code())
            finally:
                channel.close()
            stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def _cancel_on(self, stop: threading.Event) -> None:
        stop.wait()
        if self._call is not None:
            self._call.cancel()

    def _register(self, stub: Any) -> None:
        entry = entries.registration(
            instance_id=self.me,
            signing_key=self.keys.signing_public,
            sealing_key=self.keys.sealing_public,
            address=self.config.mpc_address,
        )
        reply = stub.Register(
            pb.RegisterRequest(
                instance_id=self.me,
                signing_key=self.keys.signing_public,
                sealing_key=self.keys.sealing_public,
                mpc_address=self.config.mpc_address,
                entry_signature=entry.sign(self.keys.signing).signature,
            ),
            timeout=CALL_TIMEOUT_S,
        )
        self._pin_launcher(reply.launcher_key)
        s = reply.spec
        self.min_contributors = max(1, s.min_contributors)
        self.spec = FederationSpec(
            n_items=s.n_items,
            dim=s.dim,
            aggregation=s.aggregation,
            server_lr=s.server_lr,
            server_momentum=s.server_momentum,
            clip_norm=s.clip_norm,
            range_bound=s.range_bound,
            noise_multiplier=s.noise_multiplier,
        )
        log.info("%s: registered (model v%d)", self.me, reply.model_version)

    def _pin_launcher(self, key: bytes) -> None:
        """Trust the launcher's key on first use; refuse a launcher that changed it."""
        path = self.config.state_dir / LAUNCHER_KEY_FILE
        if not key:
            return
        if path.exists() and path.read_bytes() != key:
            raise ProtocolError(
                f"the launcher's key changed (pinned in {path})",
                hint="a new launcher identity: check with its operator, then remove the file",
            )
        if not path.exists():
            write_atomic(path, key, hint="give the node a writable state directory")
        self.heads = TreeHeadStore(
            Ed25519PublicKey.from_public_bytes(key), self.config.state_dir / HEADS_FILE
        )

    def _check_history(self, stub: Any) -> None:
        """Fetch the latest signed tree head; check it extends every head shown before."""
        if self.heads is None:
            return
        latest = self.heads.latest
        try:
            reply = stub.GetTreeHead(
                pb.TreeHeadRequest(known_size=latest.size if latest else 0), timeout=CALL_TIMEOUT_S
            )
        except grpc.RpcError as err:
            if err.code() is grpc.StatusCode.FAILED_PRECONDITION:
                return  # no audit log or no head yet
            raise
        head = TreeHead(reply.size, reply.root, reply.signature)
        try:
            self.heads.observe(head, list(reply.consistency))
        except ForkDetected as err:
            self.forked = str(err)
            log.critical("%s: %s; no longer taking part", self.me, err)

    def _follow(self, stub: Any, stop: threading.Event) -> None:
        self._call = stub.WatchRounds(pb.WatchRequest(after_round=0))
        for ann in self._call:
            if stop.is_set():
                return
            try:
                self._on(stub, ann)
            except grpc.RpcError as err:
                if err.code() not in BENIGN:
                    raise
                log.debug("%s: round %d: %s", self.me, ann.round_id, err.details())

    def _once(self, round_id: int, step: str) -> bool:
        """True the first time ``(round_id, step)`` is asked for."""
        if (round_id, step) in self._done:
            return False
        self._done.add((round_id, step))
        return True

    # -- the steps --------------------------------------------------------------------------

    def _on(self, stub: Any, ann: Any) -> None:
        rid, state = ann.round_id, ann.state
        if self.forked:
            return
        members = [m.instance_id for m in ann.committee]
        if state == "open" and self.me in ann.participants and self._once(rid, "commit"):
            secret = os.urandom(32)
            self._secrets[rid] = secret
            value = commitment(rid, self.me, secret)
            entry = entries.seed_commit(instance_id=self.me, round_id=rid, commitment=value)
            signature = entry.sign(self.keys.signing).signature
            stub.SubmitCommit(
                pb.SeedCommit(round_id=rid, commitment=value, entry_signature=signature),
                timeout=CALL_TIMEOUT_S,
            )
        elif state == "revealing" and rid in self._secrets and self._once(rid, "reveal"):
            stub.SubmitReveal(
                pb.SeedReveal(round_id=rid, secret=self._secrets[rid]), timeout=CALL_TIMEOUT_S
            )
        elif state == "collecting" and rid in self._secrets and self._once(rid, "upload"):
            self._contribute(stub, ann)
        elif state == "computing" and self.me in members and self._once(rid, "compute"):
            self._serve(stub, ann)
        elif state == "computing" and ann.dealer.instance_id == self.me and self._once(rid, "deal"):
            self._deal(ann)
        elif state in ("published", "aborted") and self._once(rid, "end"):
            self._secrets.pop(rid, None)
            log.info("%s: round %d %s %s", self.me, rid, state, ann.reason)
        # every announcement names a published model: serve the newest one seen
        newest = ann.published_version if state == "published" else ann.model_version
        if newest > self._served:
            self._served = newest
            self._check_history(stub)
            self._write_snapshot(stub, newest)

    def _model(self, stub: Any, version: int) -> PublishedModel:
        if version not in self._models:
            head, data = None, bytearray()
            for chunk in stub.GetModel(pb.GetModelRequest(version=version), timeout=CALL_TIMEOUT_S):
                head = head or chunk
                data += chunk.data
            assert head is not None
            self._models[version] = PublishedModel(
                head.version, head.n_items, head.dim, bytes(data)
            )
            for old in [v for v in self._models if v < version - 1]:
                del self._models[old]
        return self._models[version]

    def _write_snapshot(self, stub: Any, version: int) -> None:
        """Build what this instance serves from model ``version`` (if its trainer can): publish
        it to the in-process API (an atomic swap) or, without one, write it atomically to
        ``state_dir/snapshot.npz`` for ``mpcrec serve --snapshot``."""
        snapshot = getattr(self.trainer, "snapshot", None)
        if snapshot is None:
            return
        model = self._model(stub, version)
        built = snapshot(model.array(), version)
        if self.recommender is not None:
            self.recommender.publish(built)
            log.info("%s: serving model v%d", self.me, version)
        else:
            built.save(self.config.state_dir / SNAPSHOT_FILE)

    def _contribute(self, stub: Any, ann: Any) -> None:
        assert self.spec is not None
        base = self._model(stub, ann.model_version)
        if base.model_hash != ann.model_hash:
            log.error(
                "%s: round %d: the model does not match the announced hash", self.me, ann.round_id
            )
            return
        delta, weight = self.trainer.update(base.array(), ann.model_version)
        if not weight > 0:  # no training events yet: nothing to contribute this round
            log.info("%s: round %d: nothing to contribute", self.me, ann.round_id)
            return
        if not self.config.skip_clip:  # the committee rejects anything above clip_norm
            delta = clip_to_norm(delta, CLIP_MARGIN * self.spec.clip_norm).reshape(delta.shape)
        envelopes = self._seal(delta, ann)
        recipients = [m.instance_id for m in ann.committee]
        entry = entries.contribution(
            round_id=ann.round_id,
            instance_id=self.me,
            model_version=ann.model_version,
            digest=envelopes_digest(dict(zip(recipients, envelopes, strict=True))),
            size=sum(len(e) for e in envelopes),
        )
        header = pb.ContributionHeader(
            round_id=ann.round_id,
            weight=weight,
            recipients=recipients,
            sizes=[len(e) for e in envelopes],
            entry_signature=entry.sign(self.keys.signing).signature,
        )
        receipt = stub.UploadContribution(
            _chunks(header, b"".join(envelopes)), timeout=CALL_TIMEOUT_S
        )
        log.info("%s: round %d: uploaded %d bytes", self.me, ann.round_id, receipt.bytes_received)

    def _seal(self, delta: Any, ann: Any) -> list[bytes]:
        assert self.spec is not None
        if self.spec.aggregation == "plaintext":
            blob = seal_plain(
                delta, round_id=ann.round_id, model_hash=ann.model_hash, contributor=self.me
            )
            return [blob for _ in ann.committee]
        from mpcrec.crypto.envelope import seal_contribution

        sealed = seal_contribution(
            np.ravel(delta),
            member_keys=[m.sealing_key for m in ann.committee],
            signing_key=self.keys.signing,
            round_id=ann.round_id,
            model_hash=ann.model_hash,
            contributor_id=self.me,
        )
        return [s.to_bytes() for s in sealed]

    def _serve(self, stub: Any, ann: Any) -> None:
        assert self.spec is not None
        if self.config.member_delay_s:
            time.sleep(self.config.member_delay_s)
        rid = ann.round_id
        request = pb.FetchSharesRequest(round_id=rid)
        envelopes = _envelopes(stub.FetchShares(request, timeout=CALL_TIMEOUT_S))
        base = self._model(stub, ann.model_version)
        previous = None
        if self.spec.server_momentum and ann.model_version > 0:
            previous = self._model(stub, ann.model_version - 1).array()
        try:
            if self.spec.aggregation == "plaintext":
                nxt, accepted = plain_round(
                    envelopes,
                    spec=self.spec,
                    round_id=rid,
                    model=base.array(),
                    model_hash=base.model_hash,
                    previous=previous,
                    seed=ann.seed,
                )
            else:
                nxt, accepted = self._secure_round(ann, envelopes, base, previous)
        except (RoundAborted, ProtocolError) as err:
            log.warning("%s: round %d failed: %s", self.me, rid, err)
            failed = pb.RoundResult(round_id=rid, ok=False, reason=str(err)[:500])
            stub.SubmitResult(failed, timeout=CALL_TIMEOUT_S)
            return
        model = PublishedModel.from_array(ann.model_version + 1, nxt)
        entry = result_entry(
            member=self.me,
            round_id=rid,
            new_version=model.version,
            model_hash=model.model_hash,
            digests=dict(zip(ann.contributors, ann.digests, strict=True)),
            accepted=accepted,
            noise_multiplier=self.spec.noise_multiplier,
        )
        signature = entry.sign(self.keys.signing).signature
        stub.SubmitResult(
            pb.RoundResult(
                round_id=rid,
                ok=True,
                model=model.data,
                model_hash=model.model_hash,
                accepted=list(accepted),
                signature=signature,
            ),
            timeout=CALL_TIMEOUT_S,
        )
        log.info("%s: round %d: result sent (%d accepted)", self.me, rid, len(accepted))

    def _secure_round(
        self, ann: Any, envelopes: list[Envelope], base: PublishedModel, previous: Matrix | None
    ) -> tuple[Matrix, tuple[str, ...]]:
        """This member's part of the secure round, in its warm CrypTen party."""
        from committees.party import SealedInputs
        from committees.seat import CommitteeSeat
        from mpcrec.crypto.envelope import SealedShare
        from mpcrec.secure.program import RoundSpec

        assert self.spec is not None
        if self._seat is None:
            self._seat = CommitteeSeat(self.me)
        members = list(ann.committee)
        total = sum(e.weight for e in envelopes)
        sgd = ServerSGD(lr=self.spec.server_lr, momentum=self.spec.server_momentum)
        if previous is not None:
            sgd.observe(previous.ravel(), base.array().ravel())
        spec_weights = tuple(e.weight / total for e in envelopes)
        spec = RoundSpec(
            round_id=ann.round_id,
            dim=self.spec.size,
            weights=spec_weights,
            public_offset=sgd.public_offset(base.array().ravel()),
            server_lr=self.spec.server_lr,
            clip_norm=self.spec.clip_norm,
            range_bound=self.spec.range_bound or None,
            noise_std=self.spec.noise_std(list(spec_weights)),
            min_contributors=self.min_contributors,
        )
        inputs = SealedInputs(
            sealed=tuple(SealedShare.from_bytes(e.data) for e in envelopes),
            member_key=self.keys.sealing.private_bytes_raw(),
            contributor_keys=tuple(e.signing_key for e in envelopes),
            model_hash=base.model_hash,
        )
        rank = [m.instance_id for m in members].index(self.me)
        session = self._session(ann, rank)
        outcome = self._seat.compute(session, spec, inputs, timeout=self.mpc_timeout_s + 30)
        if outcome.params is None:
            raise RoundAborted(f"the committee refused the round: {outcome.refused}")
        accepted = tuple(
            e.contributor for e, ok in zip(envelopes, outcome.accepted, strict=True) if ok
        )
        return np.asarray(outcome.params, dtype=np.float64).reshape(
            base.n_items, base.dim
        ), accepted

    def _session(self, ann: Any, rank: int) -> Any:
        """This party's CrypTen session for the round: ``replicated`` (3 members) or, when a
        dealer was drawn, ``beaver`` with the dealer as TTP (rank ``k``). The parties talk
        over mutually authenticated TLS 1.3, each listening on its registered MPC address,
        peers pinned to the announced committee (and dealer), session bound to the round."""
        from committees.party import Session, SessionSettings
        from committees.transport.settings import committee_transport

        ranks = [*ann.committee, *([ann.dealer] if ann.dealer.instance_id else [])]
        transport = committee_transport(
            ranks,
            rank=rank,
            certs=self.config.tls,
            session=f"round-{ann.round_id}",
            timeout_s=self.mpc_timeout_s,
        )
        protocol = "beaver" if ann.dealer.instance_id else "replicated"
        settings = SessionSettings(protocol=protocol, provider="TTP", timeout_s=self.mpc_timeout_s)
        return Session(
            rendezvous="",
            rank=rank,
            members=len(ann.committee),
            settings=settings,
            transport=transport,
        )

    def _deal(self, ann: Any) -> None:
        """Serve as the round's TTP dealer until the members end the session."""
        from committees.seat import CommitteeSeat

        if self._seat is None:
            self._seat = CommitteeSeat(self.me)
        try:
            self._seat.deal(self._session(ann, len(ann.committee)), timeout=self.mpc_timeout_s * 4)
            log.info("%s: round %d: served as dealer", self.me, ann.round_id)
        except RoundAborted as err:
            log.warning("%s: round %d: dealer: %s", self.me, ann.round_id, err)

    def close(self) -> None:
        """Stop the committee party and the HTTP API, if started."""
        if self._seat is not None:
            self._seat.close()
        if self.api is not None:
            self.api.stop()


def _chunks(header: Any, body: bytes) -> Iterator[Any]:
    yield pb.ContributionChunk(header=header)
    for start in range(0, len(body), CHUNK):
        yield pb.ContributionChunk(data=body[start : start + CHUNK])


def _envelopes(stream: Iterator[Any]) -> list[Envelope]:
    found: list[Envelope] = []
    current: dict[str, Any] | None = None
    for chunk in stream:
        if chunk.contributor:
            if current is not None:
                found.append(Envelope(**current))
            current = {
                "contributor": chunk.contributor,
                "weight": chunk.weight,
                "signing_key": chunk.signing_key,
                "data": b"",
            }
        assert current is not None
        current["data"] += chunk.data
    if current is not None:
        found.append(Envelope(**current))
    return found
