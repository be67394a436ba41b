"""A hostile launcher's lies about the ledger: the committee's shared result, the privacy
budget and its accountant, and the order of its own log, told in one user-level federation
against real node processes (docs/threat-model.md, "Every claim, its attacker, and how its
test failed before").

Round 1 is honest and must publish (the control). Then, one stage after the other:

``alter-result``
    from the control round's publication until a round ends after every participant of it
    was served the altered model (at most :data:`MAX_ALTERED` rounds: a node late for one
    round's commit window fetches no model in it), every ``GetModel`` serves the published
    model (its values and hash unchanged) with its committee in one of three
    :data:`FORMS`, the same form to a node at every call, the forms dealt out in the order
    the nodes first fetch (so with four nodes each form reaches at least one):

    * ``altered-result``: the committee's shared result altered
      (``ModelChunk.committee_result``: one contributor moved from ``accepted`` to
      ``rejected``, so the result names the digest of those moved maps;
      :func:`altered_result`); each member's entry is rebuilt over it by the node, so no
      signature verifies;
    * ``broken-entry``: the shared result honest, one member's payload-less entry changed
      in a field its signature covers (its round, :func:`broken_entry`): its rebuilt form
      does not verify, so only two of the three members needed signed;
    * ``many-entries``: the honest entries repeated to :data:`MANY_ENTRIES` under one
      shared result padded so that rebuilding every entry around it would weigh more than
      the largest message (:func:`many_entries`): the node's cap leaves every entry
      without a payload, unreadable.

    Every one is ``model-unsigned`` (each with its own detail).
``ignore-beacon``
    the next round's committee is drawn from a seed of the reveals alone, the beacon value
    the round is bound to left out (:meth:`_ignore_beacon`): a launcher that knows the seed
    before the beacon is out can grind it (abort and retry until its committee comes up).
    Nodes cannot see this (they hold no other node's reveal): the auditor names ``seed``.
``overrun`` (throughout)
    the launcher declares a user-level budget, names the exact accountant ``gdp`` in its
    signed config entry although every round samples users at ``q < 1`` (:meth:`accountant`),
    and never takes its budget as spent (:meth:`budget_spent`): it opens rounds past what
    its own promise affords (each recorded in ``learned["over_budget"]``). Every node counts
    its own users' ε (``privacy_floor.max_user_epsilon``) and must stop there.
``reorder``
    after the first round that ended with no upload at all once the alteration is over
    (every node stopped at its own count), every tree head the launcher serves is of a
    shadow log, signed with the launcher's key and consistent in itself
    (:meth:`tree_head`), one of two :data:`HISTORIES` a node (dealt out as the forms
    above): ``reorder``, the real entries with two old launcher entries swapped (both below
    any head a node saw), or ``rewrite``, the real entries with the config entry (entry 0)
    rewritten to declare a budget :data:`REWRITTEN_BUDGET` times the real one and signed
    anew (:func:`rewritten_config`: what a launcher that overran its promise would like
    the log to have said; exported with its heads to :data:`REWRITTEN_LOG`, the history
    it would hand an auditor). Every node must refuse ``fork`` and keep both heads as
    evidence.

Every upload that reaches the launcher is recorded before its own checks
(``learned["uploads"]``: round, contributor).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from typing import Any

from committees.seed import combine_reveals
from committees.sortition import draw_committee, eligible
from launch.round import Phase, Round
from mpcrec.audit.canonical import canonical_json
from mpcrec.audit.entries import LAUNCHER, Kind
from mpcrec.audit.log import AuditLog
from mpcrec.audit.result_contributions import DIGEST, contributions_digest, is_compact, maps_of
from mpcrec.crypto.keys import NodeKeys
from mpcrec.federation.tls import MAX_MESSAGE
from tests.adversarial.hooks import Attack, current_caller

ALTER, SEED, REORDER = "alter-result", "ignore-beacon", "reorder"
ALTERED, BROKEN, MANY = ALTER, "broken-entry", "many-entries"
FORMS = (ALTERED, BROKEN, MANY)  # what a node is served in the alteration (one a node)
REWRITE = "rewrite"
HISTORIES = (REORDER, REWRITE)  # the shadow log a node is shown (one a node)
MANY_ENTRIES = 200  # entries of the many-entries form (the honest three, repeated)
REWRITTEN_BUDGET = 100.0  # the rewritten config entry's budget, times the real one
REWRITTEN_LOG = "rewritten.jsonl"  # beside learned.json: the rewritten history, exported
GDP = "gdp"  # the exact accountant's name (mpcrec.privacy.accountant)
MAX_ALTERED = 4  # rounds the alteration may last while a participant has not been served it


def altered_result(shared: bytes, victim: str, maps_for: Any = None) -> bytes:
    """The committee's shared result (canonical JSON of the result members sign) with
    ``victim`` (or, if it was not accepted, the first accepted contributor) moved from
    ``accepted`` to ``rejected``; ``b""`` if nobody was accepted.

    A compact result (its contributions named by the digest of their maps,
    :mod:`mpcrec.audit.result_contributions`) gets the digest of the moved maps instead;
    ``maps_for(digest_hex)`` gives the maps the launcher logged for that digest."""
    result = json.loads(shared) if shared else {}
    compact = is_compact(result)
    maps = (maps_for(result[DIGEST]) if maps_for else None) if compact else result
    accepted = dict((maps or {}).get("accepted", {}))
    if not accepted:
        return b""
    moved = victim if victim in accepted else sorted(accepted)[0]
    lie = {**maps_of(maps), "accepted": accepted}  # type: ignore[arg-type]
    lie["rejected"] = {**lie["rejected"], moved: accepted.pop(moved)}
    if compact:
        return canonical_json({**result, DIGEST: contributions_digest(lie).hex()})
    return canonical_json({**result, **lie})


def broken_entry(signature: bytes) -> bytes:
    """A payload-less committee signature (its wire form) whose entry names the next round:
    a field the member's signature covers, so the entry the node rebuilds does not verify."""
    wire = json.loads(signature)
    entry = wire["entry"]
    return json.dumps({**wire, "entry": {**entry, "round": entry["round"] + 1}}).encode()


def many_entries(shared: bytes, signatures: list[bytes]) -> tuple[bytes, list[bytes]]:
    """``signatures`` repeated to :data:`MANY_ENTRIES` entries under ``shared`` padded so
    that the entries rebuilt around it would weigh more than :data:`MAX_MESSAGE` together
    (the node's cap, :func:`mpcrec.federation.committee_wire.committee_from_wire`); the
    message itself stays far below it."""
    padded = {**json.loads(shared), "padding": "x" * (MAX_MESSAGE // MANY_ENTRIES + 1)}
    many = [signatures[k % len(signatures)] for k in range(MANY_ENTRIES)]
    return canonical_json(padded), many


def rewritten_config(entry: Any) -> Any:
    """The config entry ``entry`` declaring :data:`REWRITTEN_BUDGET` times its budget,
    unsigned (the shadow log signs it with the launcher's key as it appends it)."""
    payload = dict(entry.payload)
    payload["epsilon_budget"] = float(payload["epsilon_budget"]) * REWRITTEN_BUDGET
    return dataclasses.replace(entry, payload=payload, signature=b"", index=-1)


def logged_maps(log: Any, digest: str) -> dict[str, Any] | None:
    """The maps of the ``result_contributions`` entry of ``log`` whose digest is ``digest``."""
    for entry in log.entries(0, log.size):
        kind_matches = entry.kind == Kind.RESULT_CONTRIBUTIONS
        if kind_matches and contributions_digest(entry.payload).hex() == digest:
            return dict(entry.payload)
    return None


class LedgerLies(Attack):
    """The lies of the module docstring."""

    name = "ledger-lies"

    def setup(self, config: Any) -> None:
        super().setup(config)
        key = NodeKeys.load_or_create(self.config.state_dir / "keys").signing

        def shadow() -> AuditLog:
            db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
            return AuditLog(db, launcher_key=key)

        self.shadows = {history: shadow() for history in HISTORIES}
        self.launcher: Any = None  # set by the first upload (the control round's)
        self.copied = -1  # real entries copied into the shadows (-1: not reordered yet)
        self.stage = ""  # "", ALTER, SEED, "" again, then REORDER
        self.altered_round = 0  # the first round of the alteration
        self.altered_callers: set[str] = set()  # the nodes served the altered model
        self.upload_rounds: set[int] = set()  # rounds with at least one upload
        self.order: dict[str, int] = {}  # caller -> its rank among the callers (first call)
        self.dealing = threading.Lock()  # concurrent first calls get distinct ranks

    def _dealt(self, caller: str, forms: tuple[str, ...]) -> str:
        """The form of ``forms`` a caller is served: by the order of the callers' first
        call to either hook, so that every form reaches a node when there are enough."""
        with self.dealing:
            rank = self.order.setdefault(caller, len(self.order))
        return forms[rank % len(forms)]

    # -- the budget and its accountant ------------------------------------------------------

    def accountant(self, sample_rates: list[float], named: str) -> str:
        self.learned.add("accountant", {"real": named, "named": GDP, "rates": sample_rates})
        return GDP

    def budget_spent(self, launcher: Any, spent: bool) -> bool:
        return False

    def opened(self, launcher: Any, rnd: Round) -> Round:
        if launcher.budget.spent():  # its own promise affords no more: it opens one anyway
            self.learned.add("over_budget", rnd.round_id)
        return rnd

    # -- the stages -------------------------------------------------------------------------

    def save(self, launcher: Any, rnd: Round) -> Round:
        if rnd.phase is Phase.PUBLISHED and self.first_published is None:
            self._begin(ALTER, rnd.round_id + 1)  # before any node can fetch the model
        elif self.stage == ALTER and rnd.phase.terminal and self._altered_enough(rnd):
            self._begin(SEED, rnd.round_id + 1)
        elif self.stage == SEED and rnd.phase is Phase.COMMITTEE_DRAWN:
            rnd = self._ignore_beacon(launcher, rnd)
            self._begin("", rnd.round_id + 1)
        elif (
            self.stage == ""
            and self.altered_round
            and rnd.phase.terminal
            and rnd.round_id > self.altered_round
            and rnd.round_id not in self.upload_rounds
        ):
            self._begin(REORDER, rnd.round_id + 1)
        return rnd

    def _altered_enough(self, rnd: Round) -> bool:
        """Whether the alteration ends with ``rnd``: every participant was served it (or it
        lasted :data:`MAX_ALTERED` rounds; the test then names who was not)."""
        if rnd.round_id < self.altered_round:
            return False
        served = set(rnd.participants) <= self.altered_callers
        return served or rnd.round_id >= self.altered_round + MAX_ALTERED - 1

    def _ignore_beacon(self, launcher: Any, rnd: Round) -> Round:
        """``rnd`` drawn as :func:`launch.transitions.draw` draws, without the beacon."""
        reveals = dict(launcher.store.reveals(rnd.round_id))
        seed = combine_reveals(rnd.round_id, reveals)
        policy = launcher.policy
        keys = {i.instance_id: i.signing_key for i in launcher.store.instances()}
        revealers = [i for i in sorted(reveals) if i in keys]
        recent = launcher.store.committees(rnd.round_id, policy.cooldown - 1)[::-1]
        pool = {i: keys[i] for i in eligible(revealers, recent, policy.cooldown)}
        members = tuple(draw_committee(seed, rnd.round_id, pool, policy.committee_size))
        item = {"round": rnd.round_id, "drawn": list(rnd.committee), "seated": list(members)}
        self.learned.add("reseeded", {**item, "seed": seed.hex()})
        return dataclasses.replace(rnd, seed=seed, committee=members)

    def _begin(self, stage: str, next_round: int) -> None:
        self.stage = stage
        if stage == ALTER:
            self.altered_round = next_round
        self.learned.add("stages", [next_round, stage])

    def upload_attempt(self, launcher: Any, upload: Any) -> None:
        self.launcher = launcher  # whose log holds the maps of a compact result
        self.upload_rounds.add(upload.round_id)
        self.learned.add("uploads", [upload.round_id, upload.contributor])

    def model_chunks(self, model: Any, chunks: list[Any]) -> list[Any]:
        if self.stage != ALTER or model.version < 1:
            return chunks
        first = chunks[0]
        caller = current_caller()
        form = self._dealt(caller, FORMS)
        head = type(first)()
        head.CopyFrom(first)
        if not first.committee_result:  # nothing to alter: a broken harness must not pass
            raise AssertionError(f"v{model.version}: no shared result to alter")
        if form == ALTERED:

            def maps_for(digest: str) -> dict[str, Any] | None:
                with self.launcher._lock:
                    return logged_maps(self.launcher.trail.log, digest)

            altered = altered_result(bytes(first.committee_result), self.victim, maps_for)
            if not altered:
                raise AssertionError(f"v{model.version}: no shared result with an accepted entry")
            head.committee_result = altered
        else:
            signatures = list(first.committee_signatures)
            if form == BROKEN:
                signatures[0] = broken_entry(signatures[0])
            else:
                shared, signatures = many_entries(bytes(first.committee_result), signatures)
                head.committee_result = shared
            del head.committee_signatures[:]
            head.committee_signatures.extend(signatures)
        item = {"caller": caller, "version": model.version, "form": form}
        self.altered_callers.add(caller)
        self.learned.add("altered", item)
        return [head, *chunks[1:]]

    def tree_head(self, launcher: Any, known_size: int) -> Any:
        if self.stage != REORDER:
            return None
        real = launcher.trail.log
        caller = current_caller()
        with launcher._lock:
            history = self._dealt(caller, HISTORIES)
            if self.copied < 0:
                self._reorder(list(real.entries(0, real.size)))
                self.copied = real.size
            for entry in real.entries(self.copied):
                for log in self.shadows.values():
                    log.append(entry)
            self.copied = real.size
            shadow = self.shadows[history]
            head = shadow.sign_head()
            if history == REWRITE:  # what it would show an auditor: entries and heads
                shadow.export_jsonl(self.learned.path.with_name(REWRITTEN_LOG))
        item = {"caller": caller, "size": head.size, "root": head.root.hex()}
        self.learned.add("shadow_heads", {**item, "known": known_size, "history": history})
        if 0 < known_size < head.size:
            return head, shadow.consistency_proof(known_size, head.size)
        return head, []

    def _reorder(self, entries: list[Any]) -> None:
        """The shadow logs: ``entries`` with the first two launcher entries after the config
        entry swapped (both far below any head a node saw: round 1's own), and ``entries``
        with the config entry rewritten (:func:`rewritten_config`)."""
        first, second = [e.index for e in entries[1:] if e.author == LAUNCHER][:2]
        order = list(range(len(entries)))
        order[first], order[second] = second, first
        for k in order:
            self.shadows[REORDER].append(entries[k])
        config, *rest = entries
        if config.kind != Kind.CONFIG:
            raise AssertionError(f"entry 0 is a {config.kind} entry, not the config")
        for entry in [rewritten_config(config), *rest]:
            self.shadows[REWRITE].append(entry)
        self.learned.add("reordered", {"swapped": [first, second], "size": len(entries)})
        self.learned.add("rewritten", {"index": config.index, "size": len(entries)})


def ledger_attacks() -> dict[str, type[Attack]]:
    """The attacks of this module by name (registered in :data:`attacks.ATTACKS`)."""
    return {LedgerLies.name: LedgerLies}
