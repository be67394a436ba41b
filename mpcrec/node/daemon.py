"""The instance daemon: registers, follows the launcher's rounds, contributes, serves when drawn.

The daemon only dispatches: each announcement of the current round
(:meth:`~mpcrec.federation.launcher_client.LauncherClient.watch_rounds`) goes to the step of
its phase, once per round (:mod:`mpcrec.node.round_memory`):

* ``open``: commit to a fresh 32-byte secret (:func:`committees.seed.commitment`), then check
  the log of the round that ended (a commitment reveals nothing: so a thousand are not taken
  in behind a thousand log checks; docs/benchmarks/federation.md, session 8);
* ``revealing``: reveal it;
* ``collecting``: check the round against the signed parameters and this node's privacy
  floor (:mod:`mpcrec.node.floor`) and that it never contributed on this base model
  (:mod:`mpcrec.node.model_reuse`); fetch the base model, train at home, seal one envelope
  per member (:mod:`mpcrec.node.aggregation`), signing its capped weight, and upload them;
* ``computing``, when on the committee: the same floor check; fetch the envelopes addressed
  to this instance, take each weight from its signed envelope
  (:mod:`mpcrec.node.signed_weights`), compute the next model and return it signed with the
  parameters and weights used (or serve as the round's dealer);
* ``published`` / ``aborted``: forget the round's secret.

Every announcement names the newest published model: the node checks the launcher's history
(:mod:`mpcrec.node.launcher_trust`) and serves it (:mod:`mpcrec.node.serving`). Signed messages
are built by :mod:`mpcrec.node.messages`; the launcher is reached through a
:class:`~mpcrec.federation.launcher_client.LauncherClient` (gRPC, or in process in tests).
The node's users' embeddings and interactions never leave it: only envelopes do. A broken
connection is retried with capped backoff while the node serves its last model; a step the
launcher refuses is logged once and not taken again that round (:mod:`mpcrec.node.reconnect`);
every step is idempotent (a repeat is a :class:`~mpcrec.federation.refusals.StoreConflict`).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.replay import REPLAY_FILE
from mpcrec.errors import ProtocolError, RoundAborted
from mpcrec.federation.announcement import Phase, RoundAnnouncement
from mpcrec.federation.launcher_client import LauncherClient
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.refusals import LauncherError, RoundStateError, StoreConflict
from mpcrec.federation.registration import Registered
from mpcrec.federation.round_params import RoundParams
from mpcrec.federation.spec import FederationSpec
from mpcrec.node import floor, messages
from mpcrec.node.aggregation import Aggregation, Seat, aggregation_for, item_features
from mpcrec.node.aggregation.step import clip_for_committee
from mpcrec.node.api_from_config import in_process_api
from mpcrec.node.beacon_check import check_beacon_binding, pinned_chain
from mpcrec.node.catalogue_client import LazyCatalogueClient
from mpcrec.node.catalogue_serving import retired_urls, without_retired
from mpcrec.node.catalogue_sync import CatalogueSource, CatalogueSync
from mpcrec.node.config import NodeConfig
from mpcrec.node.from_config import grpc_client, trainer_from_config
from mpcrec.node.grown_round import round_base
from mpcrec.node.home_contribution import contribution
from mpcrec.node.key_check import KeyCheck, own_binding
from mpcrec.node.launcher_trust import LauncherTrust
from mpcrec.node.log_watch import LogWatch, WitnessServer
from mpcrec.node.model_provenance import ModelProvenance
from mpcrec.node.model_reuse import ContributedModels
from mpcrec.node.own_entries import OwnEntries, witnessed
from mpcrec.node.reconnect import REGISTER_FIRST, LauncherLink
from mpcrec.node.round_memory import RoundMemory
from mpcrec.node.round_refusal import RefusalLog, RoundRefused
from mpcrec.node.serving import ModelCache, SnapshotWriter
from mpcrec.node.signed_weights import signed_weights
from mpcrec.node.trainer import Trainer
from mpcrec.node.user_dp import UserBudget

if TYPE_CHECKING:
    from mpcrec.federation.result import MemberResult

log = logging.getLogger("mpcrec.node")
Step = Callable[[LauncherClient, RoundAnnouncement], None]
#: A node sends its catalogue export once a round, at the first of these it sees (merged
#: when the next round opens; a round's end alone is often unseen: the next opens at once).
EXPORT_PHASES = (Phase.COMPUTING, Phase.PUBLISHED, Phase.ABORTED)


class Node:
    """One instance's daemon.

    Parameters
    ----------
    config:
        Identity, launcher address, TLS files, state directory.
    trainer:
        Local training (default: the one the config names).
    connect:
        Opens a connection to the launcher (default: gRPC to ``config.launcher``); called
        again after every failure.
    catalogue:
        Where catalogue versions come from (default: the launcher's ``Catalogue`` service).
    """

    def __init__(
        self,
        config: NodeConfig,
        trainer: Trainer | None = None,
        *,
        connect: Callable[[], LauncherClient] | None = None,
        catalogue: CatalogueSource | None = None,
    ) -> None:
        self.config = config
        self.me = config.instance_id
        self.trainer = trainer or trainer_from_config(config)
        self.keys = NodeKeys.load_or_create(config.state_dir / "keys")
        self.own = OwnEntries(config.state_dir)  # what it signed, kept to prove in the log
        self.bound = own_binding(config.tls, self.me, self.keys)  # its TLS key vouches for keys
        self.key_check = KeyCheck(config.tls.ca)
        self.connect = connect or grpc_client(config)
        self.spec: FederationSpec | None = None
        self.aggregation: Aggregation | None = None
        self.min_contributors = 1
        self.params: RoundParams | None = None  # the round parameters registered under
        self.privacy_floor = config.privacy_floor
        self.trust = LauncherTrust(config.state_dir)
        self.catalogue = CatalogueSync(config.state_dir, self.own.signed)  # verified, or refused
        self.catalogue_source = catalogue or LazyCatalogueClient(config.launcher, config.tls)
        self.refusals = RefusalLog(config.state_dir, self.me)
        self.contributed = ContributedModels(config.state_dir, self.me)
        self.user_budget = UserBudget(config.state_dir)  # its users' ε (user-level rounds)
        self.log_watch = LogWatch(self.me, self.keys, self.trust, self.own, config.witness.peers)
        listen = config.witness.listen
        self.witness = WitnessServer(self.log_watch.witness_path, listen) if listen else None
        signers = lambda: self.params.committee_size if self.params else 1  # noqa: E731
        committee = ModelProvenance(self.key_check, signers)  # model-unsigned
        self.models, self.forked = ModelCache(committee.check), ""  # forked: two histories
        self.memory = RoundMemory()  # the steps taken and seed secrets of recent rounds
        self._unsent: dict[int, MemberResult] = {}  # signed, not yet acknowledged
        self._served = 0  # newest model version followed (checked and served)
        self._client: LauncherClient | None = None
        self.link = LauncherLink(self.me)  # capped backoff, one log line per change of state
        self._doing = "its registration"  # what a failure ended, for the log
        self.recommender, self.api = in_process_api(config)  # serving in-process (peertube.listen)
        self.beacon_chain = pinned_chain(config.beacon)
        self.snapshots = SnapshotWriter(self.me, self.trainer, config.state_dir, self.recommender)
        self.snapshots.hide = lambda s: without_retired(s, retired_urls(self.catalogue.index))
        self._steps: dict[Phase, Step] = {Phase.OPEN: self._commit, Phase.REVEALING: self._reveal}
        self._steps |= {Phase.COLLECTING: self._contribute, Phase.COMPUTING: self._computing}
        self._steps |= dict.fromkeys((Phase.PUBLISHED, Phase.ABORTED), self._end)

    @property
    def served_version(self) -> int:
        """The newest published model version this node has followed."""
        return self._served

    # -- the loop -------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Follow the launcher until ``stop`` is set, reconnecting after failures."""
        threading.Thread(target=self._close_on, args=(stop,), daemon=True).start()
        if self.api is not None:
            self.api.start()  # 503 until the first published model
        if self.witness is not None:
            self.witness.start()
        while not stop.is_set():
            client = self._client = self.connect()
            ended: LauncherError | None = None  # None: the launcher ended the watch
            try:
                self._doing = "its registration"
                self.register(client)
                self._doing = "its watch"
                self.follow(client, stop)
            except LauncherError as err:
                ended = err
            finally:
                client.close()
            if not stop.is_set():
                serving = f"model v{self._served}" if self.api is not None else "nothing"
                stop.wait(self.link.ended(ended, self._doing, serving))

    def _close_on(self, stop: threading.Event) -> None:
        stop.wait()
        if self._client is not None:
            self._client.close()

    def register(self, client: LauncherClient) -> Registered:
        """Register (again) and take the federation's spec; the aggregation it names is
        chosen here, once (kept while the spec stays the same)."""
        client = witnessed(client, self.own, self.me, self.keys.signing_public)
        registered = client.register(
            messages.registration(self.me, self.keys, self.config.mpc_address, self.bound)
        )
        self.trust.pin(registered.launcher_key)
        self.params = self.snapshots.gram.params = registered.params
        min_contributors = floor.required_contributors(self.privacy_floor, registered.params)
        if self.aggregation is None or (self.spec, self.min_contributors) != (
            registered.spec,
            min_contributors,
        ):
            if self.aggregation is not None:
                self.aggregation.close()
            seat = Seat(
                self.me, self.keys, self.config.tls, self.config.mpc_timeout_s, min_contributors
            )
            registry = str(self.config.state_dir / REPLAY_FILE)
            warm, features = self.config.committee.warm_seat, item_features(self.trainer)
            seat = replace(seat, replay_registry=registry, warm_seat=warm, item_features=features)
            self.aggregation = aggregation_for(registered.spec, seat)
        self.spec, self.min_contributors = registered.spec, min_contributors
        log.info("%s: registered (model v%d)", self.me, registered.model_version)
        self.catalogue.send_export(self.trainer, self.me, self.catalogue_source, again=True)
        return registered

    def follow(self, client: LauncherClient, stop: threading.Event) -> None:
        """Handle every announcement until ``stop`` is set or the watch ends."""
        for ann in client.watch_rounds(after_round=0):
            if stop.is_set():
                return
            self.handle(client, ann)

    def handle(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        """Take this round's step (a refusal as a duplicate or too late counts as done; a
        round this node refuses is recorded in :attr:`refusals`; a step the launcher
        refuses is logged and not taken again this round, unless :data:`REGISTER_FIRST`)."""
        self.own.announced(ann)
        client = witnessed(client, self.own, self.me, self.keys.signing_public)
        self.memory.current = None
        try:
            self.on_announcement(client, ann)
        except RoundRefused as refusal:
            self.refusals.record(ann.round_id, refusal)
        except (StoreConflict, RoundStateError) as err:
            log.debug("%s: round %d: %s", self.me, ann.round_id, err.message)
        except REGISTER_FIRST:  # e.g. the launcher went away mid-step: take it again once back
            self.memory.retake_current()
            self._doing = f"its {self.memory.step(ann)} of round {ann.round_id}"
            raise
        except LauncherError as err:
            self.link.step_refused(ann.round_id, self.memory.step(ann), err)
        self.link.connected()  # it answered: the node follows its rounds

    def on_announcement(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        """Check the log if a round ended (at ``open`` after the commitment), dispatch ``ann``
        to the step of its phase, then follow the newest model."""
        if self.forked:
            return
        if ann.phase is not Phase.OPEN:
            self._check_log(client, ann)
        if ann.phase not in (Phase.PUBLISHED, Phase.ABORTED):
            self.catalogue.check(ann, self.catalogue_source, self.trust.pinned_key())
        if ann.phase in EXPORT_PHASES and self.memory.once(ann.round_id, "catalogue-export"):
            self.catalogue.send_export(self.trainer, self.me, self.catalogue_source)
        if ann.phase is Phase.COLLECTING and self.me in (*ann.members, ann.dealer_id):
            assert self.aggregation is not None
            self.aggregation.prepare(ann)  # the party loads while contributors train
        step = self._steps.get(ann.phase)
        if step is not None:
            step(client, ann)
            self.memory.current = None
        if ann.phase is Phase.OPEN:
            self._check_log(client, ann)
        self._follow_model(client, ann)

    def _check_log(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        try:  # a round ended: the log holds what this node signed, one history, the peers' too
            self.log_watch.follow(client, ann)
        except RoundRefused as refusal:
            self.forked = refusal.detail  # no longer taking part
            raise

    # -- the steps --------------------------------------------------------------------------

    def _commit(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        rid = ann.round_id
        if self.me not in ann.participants:
            return
        check_beacon_binding(ann, self.beacon_chain, time.time(), "commitment")
        if not self.memory.once(rid, "commit"):
            return
        secret = self.memory.secrets[rid] = messages.fresh_secret()
        value, signature = messages.seed_commit(self.me, self.keys, rid, secret)
        client.commit(rid, value, signature)

    def _reveal(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        rid = ann.round_id
        if rid in self.memory.secrets:
            check_beacon_binding(ann, self.beacon_chain, time.time(), "reveal")
        if rid in self.memory.secrets and self.memory.once(rid, "reveal"):
            client.reveal(rid, self.memory.secrets[rid])

    def _contribute(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        rid = ann.round_id
        if rid not in self.memory.secrets or not self.memory.once(rid, "upload"):
            return
        assert self.spec is not None and self.aggregation is not None and self.params is not None
        floor.check_round(self.privacy_floor, self.params, ann)
        if not (self.privacy_floor.allow_model_reuse or self.params.noise_multiplier > 0):
            self.contributed.check(ann)  # with noise every reveal is paid for in epsilon
        self.user_budget.check(self.privacy_floor, rid, self.params, ann.model_version)
        base = self.models.get(client, ann.model_version)
        if base.model_hash != ann.model_hash:
            log.error("%s: round %d: the model does not match the announced hash", self.me, rid)
            return
        grown = round_base(ann, base, self.catalogue, spec=self.spec)  # the catalogue's rows
        delta, weight = contribution(self.trainer, grown, ann.model_version, self.params)
        if not (math.isfinite(weight) and weight > 0):  # no training events yet: nothing to send
            log.info("%s: round %d: nothing to contribute", self.me, rid)
            return
        weight = min(weight, self.params.max_weight)  # the cap every member enforces
        if not self.config.skip_clip:  # the committee rejects anything above clip_norm
            delta = clip_for_committee(delta, self.spec)
        self.key_check.check_seats(ann)
        digest = self.params.digest
        envelopes = self.aggregation.seal(delta, ann, weight=weight, params_hash=digest)
        upload, signature = messages.contribution(
            self.me, self.keys, ann, envelopes, weight, digest
        )
        self.contributed.record(ann)  # before it leaves: counted even if the answer is lost
        self.user_budget.record(rid, self.params, ann.model_version)
        receipt = client.upload_contribution(upload, signature)
        log.info("%s: round %d: uploaded %d bytes", self.me, rid, receipt.size)

    def _computing(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        assert self.aggregation is not None
        if self.me in ann.members:
            if self.memory.once(ann.round_id, "compute"):
                self._serve(client, ann)
        elif ann.dealer_id == self.me and self.memory.once(ann.round_id, "deal"):
            self.aggregation.deal(ann)

    def _serve(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        """This member's part of the round: its envelopes in, a signed next model out."""
        assert self.spec is not None and self.aggregation is not None
        if self.config.member_delay_s:
            time.sleep(self.config.member_delay_s)
        rid = ann.round_id
        if rid in self._unsent:  # computed before the launcher went away
            client.submit_result(self._unsent[rid])
            return
        assert self.params is not None
        floor.check_round(self.privacy_floor, self.params, ann)
        streamed = client.fetch_shares(rid)
        self.key_check.check_envelopes(streamed)
        envelopes, weights = signed_weights(
            ann, streamed, self.params, self.aggregation.signed_terms
        )
        envelopes = floor.drop_dominant(self.privacy_floor, envelopes, weights)
        base = self.models.get(client, ann.model_version)
        previous = None
        if self.spec.server_momentum and ann.model_version > 0:
            previous = self.models.get(client, ann.model_version - 1).array()
        grown = round_base(ann, base, self.catalogue, previous, spec=self.spec)
        try:
            nxt, accepted = self.aggregation.compute(ann, envelopes, grown.model, grown.previous)
            nxt = grown.keep_retired(nxt)
            if len(accepted) < self.min_contributors:  # the secure program refuses it too
                raise RoundAborted(f"{len(accepted)} accepted, {self.min_contributors} needed")
        except RoundRefused:
            raise
        except (RoundAborted, ProtocolError) as err:
            log.warning("%s: round %d failed: %s", self.me, rid, err)
            client.submit_result(messages.failure(self.me, rid, str(err)))
            return
        model = PublishedModel.from_array(ann.model_version + 1, nxt)
        gram = getattr(self.aggregation, "released_slices", {}).pop(ann.model_version, None)
        sent = messages.result(self.me, self.keys, ann, model, accepted, self.params, weights, gram)
        self._unsent[rid] = sent
        client.submit_result(sent)
        del self._unsent[rid]
        log.info("%s: round %d: result sent (%d accepted)", self.me, rid, len(accepted))

    def _end(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        if self.memory.once(ann.round_id, "end"):
            assert self.aggregation is not None
            self.aggregation.release()  # drawn but the round ended before computing
            self.memory.secrets.pop(ann.round_id, None)
            self.contributed.release(ann)
            log.info("%s: round %d %s %s", self.me, ann.round_id, ann.phase, ann.reason)

    def _follow_model(self, client: LauncherClient, ann: RoundAnnouncement) -> None:
        """Every announcement names a published model: check and serve the newest one seen."""
        newest = ann.newest_model
        if newest <= self._served:
            return
        self._served = newest
        fork = self.trust.check_history(client)
        if fork:
            self.forked = fork
            log.critical("%s: %s; no longer taking part", self.me, fork)
        if self.snapshots.wanted:
            self.snapshots.write(self.models.get(client, newest), self.models.fetcher(client))

    def close(self) -> None:
        """Stop the committee party and the HTTP API, if started."""
        if self.aggregation is not None:
            self.aggregation.close()
        if self.api is not None:
            self.api.stop()
        if self.witness is not None:
            self.witness.stop()
