"""The launcher: registry, round scheduling, committee sortition, publishing. No gRPC, no CrypTen.

:class:`Launcher` holds the rules; :mod:`launch.service` puts it on the wire. Every message
an instance sends is admitted by the current :class:`~launch.round.Round` and stored in one
transaction under the launcher's lock; one scheduler thread (:meth:`Launcher.run`) moves
rounds forward when everything expected has arrived or a deadline has passed. Because each
state and its deadline are in the store, a launcher killed at any instant and started again
resumes the round it finds (or aborts it when its deadline has passed): nothing published or
accepted is lost, and the model version moves only on publish.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from launch.audit_trail import AuditTrail
from launch.beacon import RoundBeacon
from launch.budget import PrivacyBudget, finite_or_none
from launch.catalogue import LauncherCatalogue, opening_catalogue
from launch.envelope_terms import check_declared_terms
from launch.grown_round import RoundRows
from launch.launcher_log import LogReads
from launch.model_provenance import CommitteeSignatures
from launch.round import Phase, Round, RoundPolicy, RoundStateError
from launch.round_log import RoundLog
from launch.schedule import SETTLE_S, Schedule, ensure_initial_model
from launch.store import Contribution, Instance, LauncherStore, MemberResult, PublishedModel
from launch.transitions import due_transition
from mpcrec.audit.entries import LogEntry
from mpcrec.audit.log import AuditLog
from mpcrec.errors import ProtocolError
from mpcrec.federation.beacon_http import BeaconSource
from mpcrec.federation.refusals import LauncherUnreachable, RegisterAgain
from mpcrec.federation.spec import FederationSpec, PrivacyPromise
from mpcrec.model.content_initial import CatalogueContentRows
from mpcrec.privacy.budget import Mechanism

log = logging.getLogger("mpcrec.launcher")
__all__ = ["KEY_BYTES", "Event", "Launcher", "Schedule"]

KEY_BYTES = 32
Event = dict[str, Any]


class Launcher(LogReads):
    """The federation's coordinator (trusted for liveness only).

    Parameters
    ----------
    store:
        Where everything lives (:class:`~launch.sqlite_store.SQLiteStore` by default).
    policy, spec, schedule:
        Round rules, model parameters, timing.
    clock:
        Unix time source (tests may pass their own).
    on_event:
        Called (under the lock, keep it quick) with each event: round transitions,
        registrations, uploads.
    audit, launcher_key:
        The audit log (in the store's database) and the launcher's raw Ed25519 public key;
        without a log, instances' signatures are still checked but nothing is logged.
    privacy:
        The declared promise (logged in the config entry). With a budget, no round opens
        that would bring the published rounds' ε above it.
    beacon:
        Every round's randomness beacon (:mod:`launch.beacon`); ``None``: commit-reveal only.
    catalogue:
        The federation's catalogue (:mod:`launch.catalogue`); ``None``: rounds name none.
    """

    def __init__(
        self,
        store: LauncherStore,
        *,
        policy: RoundPolicy,
        spec: FederationSpec,
        schedule: Schedule | None = None,
        clock: Callable[[], float] = time.time,
        on_event: Callable[[Event], None] | None = None,
        audit: AuditLog | None = None,
        launcher_key: bytes = b"",
        privacy: PrivacyPromise | None = None,
        beacon: BeaconSource | None = None,
        catalogue: LauncherCatalogue | None = None,
    ) -> None:
        self.store = store
        self.catalogue = catalogue  # launch.catalogue: published when a round opens
        self.policy = policy
        self.spec = spec
        self.launcher_key = launcher_key
        self.schedule = schedule or Schedule()
        self.clock = clock
        self.on_event = on_event or (lambda _event: None)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self.generation = 0
        self.stopping = threading.Event()
        self._last_open = 0.0
        self._last_abort = 0.0
        ensure_initial_model(store, spec, self.schedule)
        self.rows = RoundRows(store, spec, lambda: self.catalogue)  # rows: the catalogue's
        self.round_log = RoundLog(store, self._emit)  # transitions, one line per aborted round
        self.rows.initial = CatalogueContentRows(lambda: self.catalogue)  # new rows: content
        self.trail = AuditTrail(audit)
        self.committee_signatures = CommitteeSignatures(audit, store, self._lock)
        self.beacon = RoundBeacon(beacon, clock)
        self.privacy = privacy or PrivacyPromise()
        self.params = spec.params(
            committee_size=policy.committee_size, min_contributors=policy.min_contributors
        )
        latest = store.latest_round()
        self.trail.config(
            policy,
            self.privacy,
            from_round=1 if latest is None else latest.round_id + 1,
            launcher_key=launcher_key,
            beacon=self.beacon.chain,
            params=self.params,
        )
        self.budget = PrivacyBudget.of_rounds(
            self.privacy, self.params, spent=self._revealed_mechanisms()
        )
        self.budget.announce(self.schedule.rounds)

    # -- the privacy budget ---------------------------------------------------------------

    @property
    def mechanism(self) -> Mechanism:
        """``(noise_multiplier, sample_rate)`` of every round this launcher runs."""
        return self.spec.mechanism

    def _revealed_mechanisms(self) -> list[Mechanism]:
        logged = self.trail.revealed_mechanisms()
        if logged is not None:
            return logged
        latest = self.store.latest_model()  # no log: this configuration's for every round
        return [self.mechanism] * (latest.version if latest is not None else 0)

    def epsilon(self) -> float:
        """ε the revealed rounds (published or not) have spent, at the declared δ."""
        return self.budget.epsilon()

    def budget_spent(self) -> bool:
        """Whether the declared budget cannot pay for one more round (never without one)."""
        return self.budget.spent()

    # -- events ---------------------------------------------------------------------------

    def _emit(self, kind: str, **fields: Any) -> None:
        self.on_event({"event": kind, "time": self.clock(), **fields})

    def _changed_now(self) -> None:
        self.generation += 1
        self._changed.notify_all()

    def wait_for_change(self, generation: int, timeout: float) -> int:
        """Block until the state generation passes ``generation`` (or timeout); return it."""
        with self._changed:
            self._changed.wait_for(
                lambda: self.generation != generation or self.stopping.is_set(), timeout
            )
            return self.generation

    # -- what instances may do ------------------------------------------------------------

    def register(
        self,
        instance_id: str,
        signing_key: bytes,
        sealing_key: bytes,
        mpc_address: str,
        signature: bytes,
        **bound: bytes,
    ) -> Instance:
        """Register an instance (again, after a restart, with the same keys).

        ``signature``: over its registration entry; ``bound``: ``certificate``, ``key_binding``."""
        if len(signing_key) != KEY_BYTES or len(sealing_key) != KEY_BYTES:
            raise ProtocolError(
                f"{instance_id}: public keys of {len(signing_key)} and {len(sealing_key)} "
                f"bytes, expected {KEY_BYTES} each (raw Ed25519 and X25519)"
            )
        with self._lock:
            known = self.store.get_instance(instance_id)
            if known and (known.signing_key, known.sealing_key) != (signing_key, sealing_key):
                raise ProtocolError(
                    f"{instance_id} is registered with other keys",
                    hint="a node keeps its keys in its state directory; restore them",
                )
            instance = Instance(
                instance_id, signing_key, sealing_key, mpc_address, self.clock(), **bound
            )
            entry = self.trail.registered(instance, signature, first=known is None)
            with self.store.transaction():
                self.store.put_instance(instance)
                self.trail.append(entry)
            if known is None:
                self._emit("registered", instance=instance_id, address=mpc_address)
            self._changed_now()
            return instance

    def current(self) -> Round | None:
        """The latest round (perhaps ended)."""
        return self.store.latest_round()

    def _round(self, round_id: int) -> Round:
        rnd = self.store.latest_round()
        if rnd is None or rnd.round_id != round_id:
            now = "none" if rnd is None else str(rnd.round_id)
            raise RoundStateError(f"round {round_id} is not the current round ({now})")
        return rnd

    def _instance(self, instance_id: str) -> Instance:
        found = self.store.get_instance(instance_id)
        if found is None:
            raise ProtocolError(f"{instance_id} is not registered")
        return found

    def commit(self, instance_id: str, round_id: int, commitment: bytes, signature: bytes) -> None:
        """Accept a signed seed commitment."""
        with self._lock:
            self._round(round_id).admit_commit(instance_id)
            entry = self.trail.commit(self._instance(instance_id), round_id, commitment, signature)
            with self.store.transaction():
                self.store.add_commit(round_id, instance_id, commitment)
                self.trail.append(entry)
            self._changed_now()

    def reveal(self, instance_id: str, round_id: int, secret: bytes) -> None:
        """Accept a seed reveal that opens the instance's commitment."""
        with self._lock:  # its own commitment only: one row, however many instances
            found = self.store.commitment(round_id, instance_id)
            commits = {} if found is None else {instance_id: found}
            self._round(round_id).admit_reveal(instance_id, commits, secret, now=self.clock())
            self.store.add_reveal(round_id, instance_id, secret)
            self._changed_now()

    def contribute(self, contribution: Contribution, signature: bytes) -> None:
        """Accept an upload (one envelope per member), at most once per instance and round;
        ``signature`` is the contributor's over the audit entry naming its digest."""
        c = contribution
        with self._lock:
            rnd = self._round(c.round_id)
            rnd.admit_contribution(c.contributor, list(c.envelopes))
            if c.params_hash != self.params.digest:
                raise RegisterAgain(
                    f"{c.contributor}: contribution sealed under other round parameters",
                    hint="register again: the launcher's parameters changed",
                )
            check_declared_terms(self.params.aggregation, c)
            entry = self.trail.contribution(self._instance(c.contributor), rnd, c, signature)
            with self.store.transaction():
                self.store.add_contribution(c)
                self.trail.append(entry)
            self._emit(
                "contribution",
                round_id=rnd.round_id,
                instance=contribution.contributor,
                bytes=contribution.size,
            )
            self._changed_now()

    def shares_for(self, member: str, round_id: int) -> list[tuple[Any, ...]]:
        """Each envelope's fields (:meth:`~launch.store.Instance.delivering`) for a member."""
        with self._lock:
            rnd = self._round(round_id)
            rnd.admit_member(member)
            frozen = set(rnd.contributors)
            found = self.store.envelopes_for(round_id, member)
        reg = {i.instance_id: i for i in self.store.instances()}
        return [reg[c].delivering(w, blob) for c, w, blob in found if c in frozen]

    def submit_result(self, result: MemberResult) -> None:
        """Accept a member's result (or its failure report)."""
        with self._lock:
            self.round_log.reported(self.store.get_round(result.round_id), result, self.clock())
            rnd = self._round(result.round_id)
            rnd.admit_member(result.member)
            signed = self._signed_result(rnd, result) if result.ok else ()
            first_reveal = bool(signed) and not any(
                r.ok for r in self.store.results(rnd.round_id).values()
            )
            logged = self.trail.unlogged(signed)  # the maps once a round, the member's entry
            with self.store.transaction():
                self.store.add_result(result)
                for entry in logged:
                    self.trail.append(entry)
            self.trail.committed(signed)
            if first_reveal:  # the launcher holds the model now: the round spends ε
                self.budget.record_revealed()
            self._emit("result", round_id=rnd.round_id, member=result.member, ok=result.ok)
            self._changed_now()

    def _signed_result(self, rnd: Round, result: MemberResult) -> tuple[LogEntry, LogEntry]:
        """A member's ok result as the entry it signed, its signature checked, after the
        entry of the contributions it signs by digest (:meth:`AuditTrail.result`)."""
        self.rows.check_result(rnd, result)  # its size is the round's, retired rows kept
        digests = self.store.digests(rnd.round_id)
        frozen = {c: digests[c] for c in rnd.contributors}
        return self.trail.result(self._instance(result.member), rnd, result, frozen, self.params)

    def model(self, version: int) -> PublishedModel:
        """A published model (``-1``: the latest)."""
        found = self.store.latest_model() if version < 0 else self.store.get_model(version)
        if found is None:
            raise ProtocolError(f"no model version {version}")
        return self.committee_signatures.attach(found)  # nodes refuse a model without it

    # -- scheduling ------------------------------------------------------------------------

    def run(self, stop: threading.Event, tick_s: float = 0.05) -> None:
        """Advance rounds until ``stop`` is set (the scheduler thread)."""
        generation = self.generation
        while not stop.is_set():
            try:
                self.advance()
            except LauncherUnreachable as err:  # its store cannot write: nothing was kept
                log.error("%s; the rounds wait, retrying every second", err.message)
                stop.wait(1.0)
            stop.wait(SETTLE_S)  # a burst of calls (a thousand commitments) is looked at together
            generation = self.wait_for_change(generation, tick_s)

    def finished(self) -> bool:
        """Whether the schedule's number of published rounds has been reached, or the
        declared privacy budget cannot pay for another round and none is under way."""
        latest, current = self.store.latest_model(), self.store.latest_round()
        target = self.schedule.rounds
        done = bool(target) and latest is not None and latest.version >= target
        return done or (self.budget_spent() and (current is None or current.phase.terminal))

    def advance(self) -> None:
        """Make every transition that is due now (a round may move several steps)."""
        with self._lock:
            self.round_log.summarise_due(self.clock())
            for _ in range(len(Phase) + 1):
                rnd = self.store.latest_round()
                moved = self._open_next(rnd) if rnd is None or rnd.phase.terminal else None
                if moved is None and rnd is not None and not rnd.phase.terminal:
                    value = self.beacon.value(rnd)
                    moved = due_transition(rnd, self.store, self.policy, self.clock(), value)
                if moved is None:
                    return
                self._save(moved)

    def _save(self, rnd: Round) -> None:
        with self.store.transaction():
            model_hash = b""
            if rnd.phase is Phase.PUBLISHED:
                model = self._winning_model(rnd)
                model_hash = model.model_hash
                self.store.publish(rnd, model)
            else:
                self.store.save_round(rnd)
            base_rows = self.rows.base_rows(rnd) if rnd.phase is Phase.OPEN else 0
            rows = opening_catalogue(self.catalogue, rnd, base_rows)  # signs it first
            self.trail.round_changed(rnd, self.store.reveals(rnd.round_id), model_hash, rows)
        if rnd.phase is Phase.ABORTED:
            self._last_abort = self.clock()
        if rnd.phase.terminal and self.budget.spent():
            self._emit("budget_spent", epsilon=self.epsilon(), rounds=self.budget.rounds)
        self.round_log.saved(rnd, self.clock())
        self._emit(
            "round",
            round_id=rnd.round_id,
            state=rnd.phase.value,
            model_version=rnd.model_version,
            committee=list(rnd.committee),
            dealer=rnd.dealer,
            contributors=list(rnd.contributors),
            upload_bytes=self.store.upload_bytes(rnd.round_id),
            reason=rnd.reason,
            epsilon=finite_or_none(self.epsilon()),  # at the promise's unit and delta
        )
        self._changed_now()

    def _open_next(self, last: Round | None) -> Round | None:
        now = self.clock()
        if self.finished() or now - self._last_open < self.schedule.interval_s:
            return None
        retrying = last is not None and last.phase is Phase.ABORTED
        if retrying and now - self._last_abort < self.schedule.retry_s:
            return None
        ids = [i.instance_id for i in self.store.instances()]  # the rule `participants`
        needed = max(self.policy.seats, self.policy.min_contributors)
        if len(ids) < max(needed, self.schedule.min_instances if last is None else 0):
            return None
        model = self.store.latest_model()
        assert model is not None
        self._last_open = now
        next_id = 1 if last is None else last.round_id + 1
        tie = self.beacon.bind(now, self.policy)
        return Round.open(next_id, model.version, ids, now=now, policy=self.policy, beacon=tie)

    def _winning_model(self, rnd: Round) -> PublishedModel:
        return self.rows.published(rnd, self.store.results(rnd.round_id)[rnd.committee[0]])
