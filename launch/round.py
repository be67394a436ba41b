"""One federation round as a pure state machine: no I/O, no clock, no gRPC.

A round moves through these states (anything else raises :class:`RoundStateError`)::

    open ──► revealing ──► committee_drawn ──► collecting ──► computing ──► published
      │          │               │                 │              │
      └──────────┴───────────────┴─────────────────┴──────────────┴──────► aborted

1. ``open``: the round's participants (the instances registered when it opened) send a
   commitment to a secret.
2. ``revealing``: commitments are closed; those who committed reveal their secrets. Closing
   the commitments first means nobody can choose a secret after seeing another's.
3. ``committee_drawn``: the seed, combined from every reveal, fixes the committee (and the
   dealer) by sortition; nobody, the launcher included, chose it alone.
4. ``collecting``: contributors upload one sealed envelope per member.
5. ``computing``: the set of contributions is frozen (each counted once) and the members
   compute the next model.
6. ``published``: every member returned the same model; the model version moves by one.
   ``aborted``: a deadline passed, too few took part, or a member failed; the model version
   does not move, and the launcher retries with a new round (a fresh seed, a fresh committee).

Each state has a deadline (unix seconds) fixed when it is entered, so a restarted launcher
knows how long the state it finds may still last.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from committees.seed import verify_reveal
from mpcrec.errors import ConfigError, ProtocolError
from mpcrec.federation.announcement import Phase as Phase
from mpcrec.federation.refusals import RoundStateError as RoundStateError

ALLOWED: Mapping[Phase, frozenset[Phase]] = {
    Phase.OPEN: frozenset({Phase.REVEALING, Phase.ABORTED}),
    Phase.REVEALING: frozenset({Phase.COMMITTEE_DRAWN, Phase.ABORTED}),
    Phase.COMMITTEE_DRAWN: frozenset({Phase.COLLECTING, Phase.ABORTED}),
    Phase.COLLECTING: frozenset({Phase.COMPUTING, Phase.ABORTED}),
    Phase.COMPUTING: frozenset({Phase.PUBLISHED, Phase.ABORTED}),
    Phase.PUBLISHED: frozenset(),
    Phase.ABORTED: frozenset(),
}


@dataclass(frozen=True)
class RoundPolicy:
    """The rules every round follows (from the launcher's config).

    Parameters
    ----------
    committee_size:
        Members per committee (k).
    min_contributors:
        Fewest contributions a round may aggregate (stops differencing attacks).
    cooldown:
        A member serves at most once in any ``cooldown`` consecutive rounds.
    dealer:
        Whether a TTP dealer is drawn from the non-members.
    commit_s, reveal_s, collect_s, compute_s:
        How long each state may last, in seconds.
    """

    committee_size: int = 3
    min_contributors: int = 3
    cooldown: int = 1
    dealer: bool = False
    commit_s: float = 10.0
    reveal_s: float = 10.0
    collect_s: float = 60.0
    compute_s: float = 120.0

    def __post_init__(self) -> None:
        if self.committee_size < 1:
            raise ConfigError(
                f"committee_size {self.committee_size} must be at least 1",
                hint="use 3 for a replicated committee",
            )
        if self.min_contributors < 1:
            raise ConfigError(f"min_contributors {self.min_contributors} must be at least 1")
        if self.cooldown < 1:
            raise ConfigError(
                f"cooldown {self.cooldown} must be at least 1", hint="1 means no cooldown"
            )
        for name in ("commit_s", "reveal_s", "collect_s", "compute_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} = {getattr(self, name)} must be positive")

    @property
    def seats(self) -> int:
        """Instances a round needs besides the contributors: members plus the dealer."""
        return self.committee_size + (1 if self.dealer else 0)


@dataclass(frozen=True)
class Round:
    """A round's public record; every method returns a new ``Round`` or raises.

    Attributes
    ----------
    round_id:
        Increases by one per round, aborted rounds included (sortition and replay checks
        bind to it).
    model_version:
        The published model this round starts from.
    phase, deadline:
        The current state and when it ends (unix seconds).
    participants:
        Instances registered when the round opened, sorted.
    seed:
        The combined seed, once the reveals are in.
    committee, dealer:
        Member ids in rank order, and the dealer id (``""`` when none).
    contributors, weights:
        The frozen contributions (sorted ids) and their public weights, once computing.
    reason:
        Why the round aborted.
    beacon_round, beacon_at:
        The beacon round bound to this round when it opened, and when it is due (unix
        seconds; after the latest reveal deadline); ``0`` without a beacon.
    beacon_signature, beacon_previous:
        That round's beacon (signature, and previous signature on a chained chain), once
        the committee is drawn.
    published_version:
        The model version the round published (``model_version + 1``), else ``-1``.
    """

    round_id: int
    model_version: int
    phase: Phase
    deadline: float
    participants: tuple[str, ...]
    seed: bytes = b""
    committee: tuple[str, ...] = ()
    dealer: str = ""
    contributors: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    reason: str = ""
    published_version: int = -1
    beacon_round: int = 0
    beacon_at: float = 0.0
    beacon_signature: bytes = b""
    beacon_previous: bytes = b""

    @classmethod
    def open(
        cls,
        round_id: int,
        model_version: int,
        participants: Sequence[str],
        *,
        now: float,
        policy: RoundPolicy,
        beacon: tuple[int, float] = (0, 0.0),
    ) -> Round:
        """Open a round for ``participants`` (the instances registered now), bound to
        ``beacon`` (a beacon round and when it is due, after the latest reveal deadline)."""
        beacon_round, beacon_at = beacon
        if beacon_round and beacon_at < now + policy.commit_s + policy.reveal_s:
            raise RoundStateError(
                f"round {round_id}: beacon round {beacon_round} is due before the reveals close"
            )
        return cls(
            round_id=round_id,
            model_version=model_version,
            phase=Phase.OPEN,
            deadline=now + policy.commit_s,
            participants=tuple(sorted(set(participants))),
            beacon_round=beacon_round,
            beacon_at=beacon_at,
        )

    # -- transitions ---------------------------------------------------------------------

    def _to(self, phase: Phase, **changes: object) -> Round:
        if phase not in ALLOWED[self.phase]:
            raise RoundStateError(
                f"round {self.round_id}: cannot go from {self.phase} to {phase}",
                hint="allowed: " + (", ".join(sorted(ALLOWED[self.phase])) or "nothing"),
            )
        return dataclasses.replace(self, phase=phase, **changes)  # type: ignore[arg-type]

    def close_commits(self, committed: Sequence[str], *, now: float, policy: RoundPolicy) -> Round:
        """End the commitments: reveal if enough committed to seat a committee, else abort."""
        needed = max(policy.seats, policy.min_contributors)
        if len(set(committed)) < needed:
            return self.abort(f"only {len(set(committed))} commitments, {needed} needed")
        deadline = now + policy.reveal_s
        if self.beacon_round:  # nobody may reveal once the beacon is out
            deadline = min(deadline, self.beacon_at)
        return self._to(Phase.REVEALING, deadline=deadline)

    def draw(
        self,
        seed: bytes,
        committee: Sequence[str],
        dealer: str,
        *,
        policy: RoundPolicy,
        beacon: tuple[bytes, bytes] = (b"", b""),
    ) -> Round:
        """Record the seed, the committee (and dealer) it drew, and the beacon's
        ``(signature, previous signature)`` that went into the seed."""
        if len(committee) != policy.committee_size or len(set(committee)) != len(committee):
            raise RoundStateError(
                f"round {self.round_id}: committee {list(committee)} is not "
                f"{policy.committee_size} distinct instances"
            )
        if bool(dealer) != policy.dealer or dealer in committee:
            raise RoundStateError(f"round {self.round_id}: dealer {dealer!r} is not allowed")
        if bool(self.beacon_round) != bool(beacon[0]):
            raise RoundStateError(
                f"round {self.round_id}: a beacon value without a beacon round, or none"
            )
        return self._to(
            Phase.COMMITTEE_DRAWN,
            seed=seed,
            committee=tuple(committee),
            dealer=dealer,
            beacon_signature=beacon[0],
            beacon_previous=beacon[1],
        )

    def start_collecting(self, *, now: float, policy: RoundPolicy) -> Round:
        """Open the uploads (the committee assignment has been announced)."""
        return self._to(Phase.COLLECTING, deadline=now + policy.collect_s)

    def start_computing(
        self, weights: Mapping[str, float], *, now: float, policy: RoundPolicy
    ) -> Round:
        """Freeze the contributions received so far; abort if there are too few."""
        if len(weights) < policy.min_contributors:
            return self.abort(
                f"only {len(weights)} contributions, {policy.min_contributors} needed"
            )
        ids = tuple(sorted(weights))
        return self._to(
            Phase.COMPUTING,
            deadline=now + policy.compute_s,
            contributors=ids,
            weights=tuple(float(weights[i]) for i in ids),
        )

    def publish(self, model_hashes: Mapping[str, bytes]) -> Round:
        """Publish once every member has returned the same model hash."""
        missing = sorted(set(self.committee) - set(model_hashes))
        if missing:
            raise RoundStateError(f"round {self.round_id}: no result yet from {missing}")
        if len(set(model_hashes[m] for m in self.committee)) != 1:
            raise RoundStateError(f"round {self.round_id}: members returned different models")
        return self._to(Phase.PUBLISHED, published_version=self.model_version + 1)

    def abort(self, reason: str) -> Round:
        """End the round without a result; the model version does not move."""
        return self._to(Phase.ABORTED, reason=reason)

    # -- admission of messages ------------------------------------------------------------

    def _expect(self, phase: Phase, what: str) -> None:
        if self.phase is not phase:
            raise RoundStateError(
                f"round {self.round_id} is {self.phase}: {what} is accepted only when {phase}"
            )

    def admit_commit(self, instance_id: str) -> None:
        """Raise unless ``instance_id`` may send a commitment now."""
        self._expect(Phase.OPEN, "a seed commitment")
        if instance_id not in self.participants:
            raise RoundStateError(
                f"{instance_id} is not a participant of round {self.round_id}",
                hint="instances registered after a round opened join the next one",
            )

    def admit_reveal(
        self,
        instance_id: str,
        committed: Sequence[str] | Mapping[str, bytes],
        secret: bytes | None = None,
        *,
        now: float | None = None,
    ) -> None:
        """Raise unless ``instance_id`` committed and may reveal now (never once the
        round's beacon round is due), and ``secret`` (if given) opens its commitment in
        ``committed`` (id -> commitment)."""
        self._expect(Phase.REVEALING, "a seed reveal")
        if self.beacon_round and now is not None and now >= self.beacon_at:
            raise RoundStateError(
                f"round {self.round_id}: reveals closed when beacon round {self.beacon_round} "
                "was due"
            )
        if instance_id not in committed:
            raise RoundStateError(f"{instance_id} sent no commitment in round {self.round_id}")
        bad = (
            secret is not None
            and isinstance(committed, Mapping)
            and not verify_reveal(self.round_id, instance_id, secret, committed[instance_id])
        )
        if bad:
            raise ProtocolError(
                f"{instance_id}: the reveal does not open its commitment in round {self.round_id}"
            )

    def admit_contribution(self, instance_id: str, recipients: Sequence[str]) -> None:
        """Raise unless ``instance_id`` may upload one envelope to each member now."""
        self._expect(Phase.COLLECTING, "a contribution")
        if instance_id not in self.participants:
            raise RoundStateError(f"{instance_id} is not a participant of round {self.round_id}")
        if tuple(recipients) != self.committee:
            raise RoundStateError(
                f"contribution addressed to {list(recipients)}, "
                f"the committee of round {self.round_id} is {list(self.committee)}"
            )

    def admit_member(self, instance_id: str) -> None:
        """Raise unless ``instance_id`` is a member and the round is computing."""
        self._expect(Phase.COMPUTING, "a member's download or result")
        if instance_id not in self.committee:
            raise RoundStateError(f"{instance_id} is not on the committee of round {self.round_id}")
