"""The draws: every registered instance takes part, reveals open their commitments, the
seed combines them (and the round's beacon), and the committee and dealer are the
sortition's (with cooldown, provider and dealer rules).

The seed protocol is the launcher's (:mod:`committees.seed`): every participant signs a
fresh commitment for each round after it opens; the launcher logs the reveals of every
participant that committed in one ``seed_reveals`` entry, then the committee, whose seed is
:func:`~committees.seed.committee_seed` of the reveals' seed and the beacon's randomness when
the round is bound to a beacon round (:mod:`mpcrec.audit.checks.fairness` verifies the
beacon itself).

*Participants* (rule ``participants``): the participants of a round are exactly the
instances whose ``register`` entry precedes the round's ``round_open`` entry. The launcher
picks nobody: a list that leaves a registered instance out is pruned (an instance that is
offline just sends no commitment and is not a candidate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from committees.seed import combine_reveals, committee_seed, verify_reveal
from committees.sortition import NotEnoughCandidates, draw_committee, draw_dealer, eligible
from mpcrec.audit.entries import LogEntry
from mpcrec.audit.history import Finding, History, RoundRecord
from mpcrec.audit.schema import hex_map
from mpcrec.errors import UserError


def _commitments_by_round(commits: Sequence[LogEntry]) -> dict[int, list[LogEntry]]:
    """The ``seed_commit`` entries of each round, in log order."""
    out: dict[int, list[LogEntry]] = {}
    for entry in sorted(commits, key=lambda e: e.index):
        if entry.round is not None:
            out.setdefault(entry.round, []).append(entry)
    return out


def _committed(record: RoundRecord, commits: Sequence[LogEntry]) -> dict[str, bytes]:
    """Participant -> commitment, for commitments logged before the round's reveals (the
    first one per author counts)."""
    assert record.reveals is not None
    participants = set(record.opened.payload.get("participants", []))
    out: dict[str, bytes] = {}
    for entry in commits:
        if entry.index < record.reveals.index and entry.author in participants:
            out.setdefault(entry.author, bytes.fromhex(str(entry.payload["commitment"])))
    return out


def _reveal_findings(
    record: RoundRecord, committed: Mapping[str, bytes], reveals: Mapping[str, bytes]
) -> list[Finding]:
    """Each reveal opens its author's commitment for the round."""
    assert record.reveals is not None
    r, at = record.round_id, record.reveals.index
    out: list[Finding] = []
    for instance, secret in sorted(reveals.items()):
        if instance not in committed:
            why = f"round {r}: reveal by {instance}, who has no commitment for this round"
            out.append(Finding("reveal", at, why))
        elif not verify_reveal(r, instance, secret, committed[instance]):
            why = f"round {r}: the reveal of {instance} does not open its commitment"
            out.append(Finding("reveal", at, why))
    return out


def _draw_findings(
    record: RoundRecord, committed: Mapping[str, bytes], reveals: Mapping[str, bytes]
) -> list[Finding]:
    """No committee over a withheld reveal; the committee's seed combines the reveals."""
    if record.committee is None:
        return []
    r, at = record.round_id, record.committee.index
    out: list[Finding] = []
    missing = sorted(set(committed) - set(reveals))
    if missing:
        why = (
            f"round {r}: committee drawn although {', '.join(missing)} did not reveal "
            "(the round must abort)"
        )
        out.append(Finding("reveal", at, why))
    claimed = str(record.committee.payload.get("seed", ""))
    beacon = record.committee.payload.get("beacon")
    if reveals:
        expected = combine_reveals(r, reveals)
        if isinstance(beacon, dict):
            randomness = hashlib.sha256(bytes.fromhex(str(beacon["signature"]))).digest()
            expected = committee_seed(r, expected, randomness)
        if claimed != expected.hex():
            why = f"round {r}: the committee's seed is not the combination of the reveals"
            if isinstance(beacon, dict):
                why = f"{why} and beacon round {beacon['round']}"
            out.append(Finding("seed", at, why))
    return out


def check_participants(history: History) -> list[Finding]:
    """Each round's participants are every instance registered before it opened (none
    pruned, module docstring); unregistered ones are ``registry`` findings of the replay."""
    out: list[Finding] = []
    for record in history.rounds:
        opened = record.opened
        listed = set(opened.payload.get("participants", []))
        before = {i for i, e in history.registrations.items() if e.index < opened.index}
        pruned = sorted(before - listed)
        if pruned:
            why = (
                f"round {record.round_id}: registered instance(s) {', '.join(pruned)} left out "
                f"of the participants ({len(listed)} listed of {len(before)} registered)"
            )
            out.append(Finding("participants", opened.index, why))
    return out


def check_seeds(history: History) -> list[Finding]:
    """Reveals open their authors' commitments; the committee's seed is their combination.

    Every participant whose commitment for the round is logged before the reveals must
    reveal, or the round must abort before drawing a committee (a withheld reveal may not
    be silently dropped).
    """
    commits = _commitments_by_round(history.commits)
    out: list[Finding] = []
    for record in history.rounds:
        if record.reveals is None:
            continue
        committed = _committed(record, commits.get(record.round_id, []))
        reveals = hex_map(record.reveals.payload.get("reveals", {}))
        out += _reveal_findings(record, committed, reveals)
        out += _draw_findings(record, committed, reveals)
    return out


def _provider_findings(record: RoundRecord) -> list[Finding]:
    """Only ttp and replicated, the configured one, and replicated as three, no dealer."""
    assert record.committee is not None
    at, r, payload = record.committee.index, record.round_id, record.committee.payload
    provider = str(payload.get("provider", ""))
    configured = record.setting("provider", provider)
    out: list[Finding] = []
    if provider not in ("ttp", "replicated"):
        why = (
            f"round {r}: provider {provider!r} is not allowed "
            "(only ttp and replicated; TFP lets member 0 see everything)"
        )
        out.append(Finding("provider", at, why))
    if provider != configured:
        why = f"round {r}: provider {provider!r} differs from the configured {configured!r}"
        out.append(Finding("provider", at, why))
    if provider == "replicated" and (len(record.members) != 3 or payload.get("dealer") is not None):
        out.append(Finding("provider", at, f"round {r}: replicated needs 3 members, no dealer"))
    return out


def _cooldown_findings(record: RoundRecord, window: Sequence[Sequence[str]]) -> list[Finding]:
    """No member sat on a committee in ``window`` (the last ``cooldown - 1`` rounds)."""
    assert record.committee is not None
    cooldown = int(record.setting("cooldown", 1))
    repeat = sorted(set(record.members) & set().union(*window))
    if not repeat:
        return []
    why = (
        f"round {record.round_id}: {', '.join(repeat)} served within "
        f"the last {cooldown - 1} rounds (cooldown {cooldown})"
    )
    return [Finding("cooldown", record.committee.index, why)]


def _sortition_findings(
    record: RoundRecord, keys: Mapping[str, bytes], window: Sequence[Sequence[str]]
) -> list[Finding]:
    """The committee and dealer are the sortition's over the eligible revealers."""
    assert record.committee is not None and record.reveals is not None
    at, r, payload = record.committee.index, record.round_id, record.committee.payload
    members, dealer = record.members, payload.get("dealer")
    provider = str(payload.get("provider", ""))
    k, cooldown = int(record.setting("committee_size", 3)), int(record.setting("cooldown", 1))
    seed = bytes.fromhex(str(payload.get("seed", "")) or "")
    revealers = sorted(record.reveals.payload.get("reveals", {}))
    pool = {c: keys[c] for c in eligible(revealers, window, cooldown) if c in keys}
    try:
        expected = list(draw_committee(seed, r, pool, k))
        expected_dealer = draw_dealer(seed, r, pool, expected) if provider == "ttp" else None
    except (NotEnoughCandidates, UserError) as err:
        return [Finding("committee", at, f"round {r}: no valid committee: {err.message}")]
    out: list[Finding] = []
    if members != expected:
        why = f"round {r}: committee {members} is not the sortition's {expected}"
        out.append(Finding("committee", at, why))
    if provider == "ttp" and dealer != expected_dealer:
        why = f"round {r}: dealer {dealer} is not the sortition's {expected_dealer}"
        out.append(Finding("dealer", at, why))
    return out


def check_committees(history: History) -> list[Finding]:
    """Each committee and dealer is the sortition over the round's revealers.

    Also flags members who sat in the last ``cooldown - 1`` rounds, a TFP provider, a
    dealer who is a member, and a replicated committee that is not of three. Later rounds
    are judged against the committees that really served (for the cooldown).
    """
    keys = history.signing_keys()
    drawn: dict[int, list[str]] = {}  # round id -> members, for the cooldown window
    out: list[Finding] = []
    for record in history.rounds:
        if record.committee is None or record.reveals is None:
            continue
        r, cooldown = record.round_id, int(record.setting("cooldown", 1))
        window = [drawn.get(q, []) for q in range(r - (cooldown - 1), r)] if cooldown > 1 else []
        dealer = record.committee.payload.get("dealer")
        out += _provider_findings(record)
        out += _cooldown_findings(record, window)
        if dealer is not None and dealer in record.members:
            why = f"round {r}: dealer {dealer} is also a member"
            out.append(Finding("dealer", record.committee.index, why))
        out += _sortition_findings(record, keys, window)
        drawn[r] = record.members
    return out
