"""The transition a round is due for, from what the store holds: no lock, no clock, no I/O
besides reading the store.

:func:`due_transition` looks at the current state and what has arrived (commitments,
reveals, contributions, member results) and returns the next :class:`~launch.round.Round`,
or ``None`` while the round should wait. The launcher saves what it returns.
"""

from __future__ import annotations

from collections.abc import Mapping

from committees.seed import combine_reveals, committee_seed
from committees.sortition import draw_committee, draw_dealer, eligible
from launch.round import Phase, Round, RoundPolicy, RoundStateError
from launch.store import LauncherStore, MemberResult
from mpcrec.crypto.beacon import Beacon


def due_transition(
    rnd: Round,
    store: LauncherStore,
    policy: RoundPolicy,
    now: float,
    beacon: Beacon | None = None,
) -> Round | None:
    """The transition due for the running round ``rnd`` at ``now``, or ``None``.

    ``beacon`` is the value of the beacon round ``rnd`` is bound to, once fetched: a
    beacon-bound round draws only with it, and aborts when it has not come ``reveal_s``
    after it was due."""
    late = now >= rnd.deadline
    rid = rnd.round_id
    if not late and not _may_be_complete(rnd, store):
        return None
    if rnd.phase is Phase.OPEN:
        commits = store.commits(rid)
        if late or set(commits) >= set(rnd.participants):
            return rnd.close_commits(list(commits), now=now, policy=policy)
    elif rnd.phase is Phase.REVEALING:
        commits, reveals = store.commits(rid), store.reveals(rid)
        if set(reveals) >= set(commits):
            if rnd.beacon_round and beacon is None:
                if now >= rnd.beacon_at + policy.reveal_s:
                    return rnd.abort(f"beacon round {rnd.beacon_round} is not available")
                return None
            return draw(rnd, reveals, store, policy, beacon)
        if late:
            missing = sorted(set(commits) - set(reveals))
            return rnd.abort(f"no reveal from {missing}: seed withheld")
    elif rnd.phase is Phase.COMMITTEE_DRAWN:
        return rnd.start_collecting(now=now, policy=policy)
    elif rnd.phase is Phase.COLLECTING:
        weights = store.contributions(rid)
        if late or set(weights) >= set(store.reveals(rid)):
            return rnd.start_computing(weights, now=now, policy=policy)
    elif rnd.phase is Phase.COMPUTING:
        return conclude(rnd, store.results(rid), late=late, policy=policy)
    return None


def _may_be_complete(rnd: Round, store: LauncherStore) -> bool:
    """Whether enough has arrived for ``rnd``'s state to end before its deadline, by counts
    alone (each set below is a superset of the one it must cover only if it is at least as
    large): the scheduler asks after every change, and reading a thousand rows each time
    made a round's cost grow with the square of its instances."""
    commits, reveals, contributions = store.tally(rnd.round_id)
    if rnd.phase is Phase.OPEN:
        return commits >= len(rnd.participants)
    if rnd.phase is Phase.REVEALING:
        return reveals >= commits
    if rnd.phase is Phase.COLLECTING:
        return contributions >= reveals
    return True


def draw(
    rnd: Round,
    reveals: Mapping[str, bytes],
    store: LauncherStore,
    policy: RoundPolicy,
    beacon: Beacon | None = None,
) -> Round:
    """Combine the reveals (and the beacon, :func:`committees.seed.committee_seed`) into the
    seed and draw the committee (and dealer) from the revealing instances that are not
    cooling down; abort when too few are eligible."""
    seed = combine_reveals(rnd.round_id, dict(reveals))
    if beacon is not None:
        seed = committee_seed(rnd.round_id, seed, beacon.randomness)
    registry = {i.instance_id: i.signing_key for i in store.instances()}
    candidates = {i: registry[i] for i in sorted(reveals) if i in registry}
    # committees of the last cooldown-1 rounds (by round id), oldest first
    recent = store.committees(rnd.round_id, policy.cooldown - 1)[::-1]
    pool = {i: candidates[i] for i in eligible(candidates, recent, policy.cooldown)}
    if len(pool) < policy.seats:
        return rnd.abort(
            f"{len(pool)} eligible instances (cooldown {policy.cooldown}), {policy.seats} seats"
        )
    members = draw_committee(seed, rnd.round_id, pool, policy.committee_size)
    dealer = draw_dealer(seed, rnd.round_id, pool, members) if policy.dealer else ""
    signed = (beacon.signature, beacon.previous_signature) if beacon else (b"", b"")
    return rnd.draw(seed, members, dealer, policy=policy, beacon=signed)


def late_failure(rnd: Round | None, result: MemberResult) -> str:
    """The log line of a member's failure report that came after its round ``rnd`` aborted
    (the abort's reason names only the failures before it; this one is refused as too
    late, perhaps after the next round opened), or ``""`` for any other result."""
    if result.ok or rnd is None or rnd.phase is not Phase.ABORTED:
        return ""
    if result.member not in rnd.committee:
        return ""
    why = result.reason[:500]  # a member's words: quoted, one line
    return f"round {rnd.round_id} ({rnd.reason}): {result.member} failed too: {why!r}"


def conclude(
    rnd: Round, results: Mapping[str, MemberResult], *, late: bool, policy: RoundPolicy
) -> Round | None:
    """Publish a computing round once every member returned the same model over the same
    accepted contributions; abort on a failure, a disagreement, too few accepted, or
    silence past the deadline; ``None`` while results are still due."""
    failed = {m: r.reason for m, r in results.items() if not r.ok}
    if failed:
        return rnd.abort(f"members failed: {failed}")
    if set(results) < set(rnd.committee):
        if late:
            silent = sorted(set(rnd.committee) - set(results))
            return rnd.abort(f"no result from {silent} before the deadline")
        return None
    if len({results[m].accepted for m in rnd.committee}) != 1:
        return rnd.abort("members disagree on which contributions they accepted")
    accepted = results[rnd.committee[0]].accepted
    if len(accepted) < policy.min_contributors:
        return rnd.abort(
            f"only {len(accepted)} contributions accepted, {policy.min_contributors} needed"
        )
    try:
        # the same model and, in a Gram release's round, the same slice (its signed digest)
        return rnd.publish(
            {m: results[m].model_hash + results[m].slice_hash for m in rnd.committee}
        )
    except RoundStateError as err:
        return rnd.abort(err.message)
