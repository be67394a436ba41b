"""What the launcher writes to the audit log (:mod:`mpcrec.audit`), and the signatures it
checks on the way in.

Instances sign their own entries (registration, seed commitment, contribution, result) and
send the signature with the message; the launcher rebuilds the entry from the message, checks
the signature against the instance's registered key, and appends it in the same transaction
as the state change. Launcher entries (round open, reveals, committee, publish, abort) are
signed with the launcher's key. Without a log (tests, throwaway runs) the signatures are
still checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from launch.round import Phase, Round, RoundPolicy, RoundStateError
from launch.store import Instance
from mpcrec.audit import entries
from mpcrec.audit.entries import Kind, LogEntry, TreeHead
from mpcrec.audit.log import AuditLog
from mpcrec.audit.result_contributions import contributions_digest
from mpcrec.crypto.beacon import Beacon, ChainInfo
from mpcrec.errors import ProtocolError
from mpcrec.federation.contribution import Contribution
from mpcrec.federation.result import MemberResult, round_result
from mpcrec.federation.round_params import RoundParams
from mpcrec.federation.spec import PrivacyPromise
from mpcrec.privacy.accountant import accountant_for
from mpcrec.privacy.budget import Mechanism, signed_mechanism


def _beacon_json(rnd: Round) -> dict[str, Any] | None:
    """The beacon value a round's seed took in (``None`` without a beacon)."""
    if not rnd.beacon_round:
        return None
    return Beacon(rnd.beacon_round, rnd.beacon_signature, rnd.beacon_previous).to_json()


def _maps_key(maps: LogEntry) -> tuple[int | None, bytes]:
    """A ``result_contributions`` entry's round and the digest of its maps."""
    return maps.round, contributions_digest(maps.payload)


class AuditTrail:
    """The launcher's side of the audit log (``log=None``: check signatures only)."""

    def __init__(self, log: AuditLog | None) -> None:
        self.log = log
        self._maps_logged: tuple[int | None, bytes] = (None, b"")  # the last committed

    def unlogged(self, signed: Sequence[LogEntry]) -> tuple[LogEntry, ...]:
        """Of a member's result as :meth:`result` gives it (its maps, its entry): both, or
        its entry alone when the maps of that digest were the last committed for its round
        (a copy after a restart is harmless: the auditor keeps them by digest)."""
        if len(signed) == 2 and self._maps_logged == _maps_key(signed[0]):
            return (signed[1],)
        return tuple(signed)

    def committed(self, signed: Sequence[LogEntry]) -> None:
        """Note the maps of a result whose transaction committed (see :meth:`unlogged`)."""
        if signed:
            self._maps_logged = _maps_key(signed[0])

    def tree_head(self, known_size: int) -> tuple[TreeHead, list[bytes]]:
        """The latest signed tree head and a consistency proof from ``known_size`` to it."""
        head = self.log.latest_head() if self.log is not None else None
        if head is None or self.log is None:
            raise RoundStateError("no signed tree head yet", hint="wait for a round to end")
        if 0 < known_size < head.size:
            return head, self.log.consistency_proof(known_size, head.size)
        if head.size < known_size <= self.log.size:
            return head, self.log.consistency_proof(head.size, known_size)
        return head, []  # a caller ahead of this log: its own check will fail

    def inclusion_proof(self, entry_signature: bytes, tree_size: int) -> tuple[int, list[bytes]]:
        """Index and audit path of the entry signed ``entry_signature`` among the first
        ``tree_size`` entries."""
        if self.log is None:
            raise ProtocolError("this launcher keeps no audit log")
        return self.log.locate(entry_signature, tree_size)

    def append(self, entry: LogEntry | None) -> None:
        """Append a checked entry (last in its transaction: nothing after it may fail)."""
        if self.log is not None and entry is not None:
            self.log.append(entry)

    @staticmethod
    def _check(entry: LogEntry, signing_key: bytes, what: str) -> None:
        if not entry.verify(Ed25519PublicKey.from_public_bytes(signing_key)):
            raise ProtocolError(f"{entry.author}: bad signature on its {what}")

    def config(
        self,
        policy: RoundPolicy,
        privacy: PrivacyPromise,
        *,
        from_round: int,
        launcher_key: bytes,
        beacon: ChainInfo | None = None,
        params: RoundParams,
    ) -> None:
        """Log the rules, the round parameters, the privacy promise (``epsilon_budget`` null:
        none), the accountant of its rounds (:func:`~mpcrec.privacy.accountant.accountant_for`
        their sample rate, as :class:`launch.budget.PrivacyBudget` counts) and the beacon's
        chain in force, unless the last config entry says the same."""
        if self.log is None:
            return
        entry = entries.config(
            from_round=from_round,
            launcher_key=launcher_key,
            committee_size=policy.committee_size,
            cooldown=policy.cooldown,
            min_contributors=policy.min_contributors,
            provider="ttp" if policy.dealer else "replicated",
            delta=privacy.delta,
            epsilon_budget=privacy.epsilon_budget,
            privacy_unit=privacy.unit,
            beacon=beacon.to_json() if beacon is not None else None,
            params=params.to_json(),
            params_hash=params.digest,
            accountant=accountant_for([params.mechanism[1]]),
        )
        last = [e for e in self.log.entries() if e.kind == Kind.CONFIG]
        if not last or dict(last[-1].payload) != dict(entry.payload):
            self.append(entry)

    def revealed_mechanisms(self) -> list[Mechanism] | None:
        """``(noise_multiplier, sample_rate)`` of each round a member revealed a result of
        (published or not), as its first signed result in the log states them, the
        multiplier at replace-one sensitivity (what an auditor counts); ``None`` without a
        log."""
        if self.log is None:
            return None
        signed: dict[int, Mechanism] = {}
        for entry in self.log.entries():
            if entry.kind == Kind.RESULT_SIGNATURE and entry.round not in (None, *signed):
                assert entry.round is not None
                signed[entry.round] = signed_mechanism(entry.payload["result"])
        return list(signed.values())

    def registered(self, instance: Instance, signature: bytes, *, first: bool) -> LogEntry | None:
        """An instance's self-signed registration, checked (to log the first time only)."""
        entry = entries.registration(
            instance_id=instance.instance_id,
            signing_key=instance.signing_key,
            sealing_key=instance.sealing_key,
            address=instance.mpc_address,
            certificate=instance.certificate,
            key_binding=instance.key_binding,
        )
        entry = LogEntry(entry.kind, entry.round, entry.author, entry.payload, signature)
        self._check(entry, instance.signing_key, "registration")
        return entry if first else None

    def commit(self, instance: Instance, round_id: int, commitment: bytes, sig: bytes) -> LogEntry:
        """An instance's signed seed commitment, checked."""
        entry = entries.seed_commit(
            instance_id=instance.instance_id, round_id=round_id, commitment=commitment
        )
        entry = LogEntry(entry.kind, entry.round, entry.author, entry.payload, sig)
        self._check(entry, instance.signing_key, "seed commitment")
        return entry

    def contribution(
        self, instance: Instance, rnd: Round, upload: Contribution, sig: bytes
    ) -> LogEntry:
        """An instance's signed contribution (digest, weight, round parameters), checked."""
        entry = entries.contribution(
            round_id=rnd.round_id,
            instance_id=instance.instance_id,
            model_version=rnd.model_version,
            digest=upload.digest,
            size=upload.size,
            weight=upload.weight,
            params_hash=upload.params_hash,
        )
        entry = LogEntry(entry.kind, entry.round, entry.author, entry.payload, sig)
        self._check(entry, instance.signing_key, "contribution")
        return entry

    def result(
        self,
        instance: Instance,
        rnd: Round,
        result: MemberResult,
        digests: Mapping[str, bytes],
        params: RoundParams,
    ) -> tuple[LogEntry, LogEntry]:
        """A member's ok result as the entry it signed (the frozen contributions'
        ``digests``, the round ``params`` and the raw weights it used), checked, after the
        ``result_contributions`` entry of the maps it signs by digest (both to log, in
        this order: :mod:`mpcrec.audit.result_contributions`)."""
        if len(result.weights) != len(rnd.contributors):
            raise ProtocolError(
                f"{result.member}: {len(result.weights)} weights for "
                f"{len(rnd.contributors)} frozen contributions"
            )
        signed = round_result(
            round_id=rnd.round_id,
            new_version=rnd.model_version + 1,
            model_hash=result.model_hash,
            digests=digests,
            accepted=result.accepted,
            params=params,
            weights=dict(zip(rnd.contributors, result.weights, strict=True)),
            slice_hash=result.slice_hash,
        )
        entry = entries.result_signature(member=result.member, result=signed)
        entry = LogEntry(entry.kind, entry.round, entry.author, entry.payload, result.signature)
        self._check(entry, instance.signing_key, "round result")
        return entries.result_contributions(result=signed), entry

    def round_changed(
        self,
        rnd: Round,
        reveals: Mapping[str, bytes],
        model_hash: bytes,
        catalogue: Mapping[str, int] | None = None,
    ) -> None:
        """Launcher entries for a transition (``catalogue``: the round_open's
        ``catalogue_version`` and ``rows``, :func:`launch.catalogue.opening_catalogue`)."""
        r = rnd.round_id
        if rnd.phase is Phase.OPEN:
            opened = entries.round_open(
                round_id=r,
                model_version=rnd.model_version,
                participants=rnd.participants,
                beacon_round=rnd.beacon_round,
            )
            if catalogue:
                opened = replace(opened, payload={**opened.payload, **catalogue})
            self.append(opened)
        elif rnd.phase is Phase.COMMITTEE_DRAWN:
            self.append(entries.seed_reveals(round_id=r, reveals=reveals))
            self.append(
                entries.committee(
                    round_id=r,
                    seed=rnd.seed,
                    members=rnd.committee,
                    dealer=rnd.dealer or None,
                    provider="ttp" if rnd.dealer else "replicated",
                    beacon=_beacon_json(rnd),
                )
            )
        elif rnd.phase is Phase.PUBLISHED:
            self.append(
                entries.publish(
                    round_id=r, model_version=rnd.published_version, model_hash=model_hash
                )
            )
        elif rnd.phase is Phase.ABORTED:
            self.append(entries.abort(round_id=r, reason=rnd.reason))
        if rnd.phase.terminal and self.log is not None:
            self.log.sign_head()
