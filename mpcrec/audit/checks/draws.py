"""The draws: reveals open their commitments, the seed combines them, and the committee
and dealer are the sortition's (with cooldown, provider and dealer rules)."""

from __future__ import annotations

from committees.seed import combine_reveals, verify_chained_reveal
from committees.sortition import NotEnoughCandidates, draw_committee, draw_dealer, eligible
from mpcrec.audit.history import Finding, History
from mpcrec.audit.schema import hex_map
from mpcrec.errors import UserError


def check_seeds(history: History) -> list[Finding]:
    """Reveals open their authors' commitments; the committee's seed is their combination.

    Every participant holding a commitment for the round (logged before the reveals) must
    reveal, or the round must abort before drawing a committee (a withheld reveal may not
    be silently dropped).
    """
    out: list[Finding] = []
    live: dict[str, tuple[bytes, int, int]] = {}  # id -> (commitment, for round, last round)
    commits = sorted(history.commits, key=lambda e: e.index)
    c = 0
    for record in history.rounds:
        if record.reveals is None:
            continue
        # commitments logged before the reveals count (the launcher's per-round commits
        # come after round_open; chains may have been committed long before)
        while c < len(commits) and commits[c].index < record.reveals.index:
            entry = commits[c]
            try:
                value = bytes.fromhex(str(entry.payload["commitment"]))
                live[entry.author] = (
                    value,
                    int(entry.round or 0),
                    int(entry.payload["last_round"]),
                )
            except (KeyError, ValueError, TypeError):
                out.append(Finding("reveal", entry.index, "malformed seed commitment"))
            c += 1
        r = record.round_id
        participants = set(record.opened.payload.get("participants", []))
        expected = {p for p in participants if p in live and live[p][1] <= r <= live[p][2]}
        reveals = hex_map(record.reveals.payload.get("reveals", {}))
        for instance, secret in sorted(reveals.items()):
            if instance not in expected:
                out.append(
                    Finding(
                        "reveal",
                        record.reveals.index,
                        f"round {r}: reveal by {instance}, who has no commitment for this round",
                    )
                )
                continue
            value, known_round, last = live[instance]
            if not verify_chained_reveal(
                instance_id=instance,
                round_id=r,
                secret=secret,
                known=value,
                known_round=known_round,
            ):
                out.append(
                    Finding(
                        "reveal",
                        record.reveals.index,
                        f"round {r}: the reveal of {instance} does not open its commitment",
                    )
                )
            live[instance] = (secret, r + 1, last)
        missing = sorted(expected - set(reveals))
        if missing and record.committee is not None:
            out.append(
                Finding(
                    "reveal",
                    record.committee.index,
                    f"round {r}: committee drawn although {', '.join(missing)} did not reveal "
                    "(the round must abort)",
                )
            )
        if record.committee is not None and reveals:
            claimed = str(record.committee.payload.get("seed", ""))
            if claimed != combine_reveals(r, reveals).hex():
                out.append(
                    Finding(
                        "seed",
                        record.committee.index,
                        f"round {r}: the committee's seed is not the combination of the reveals",
                    )
                )
    return out


def check_committees(history: History) -> list[Finding]:
    """Each committee and dealer is the sortition over the round's revealers.

    Also flags members who sat in the last ``cooldown - 1`` rounds, a TFP provider, a
    dealer who is a member, and a replicated committee that is not of three.
    """
    out: list[Finding] = []
    keys = history.signing_keys()
    drawn: dict[int, list[str]] = {}  # round id -> members, for the cooldown window
    for record in history.rounds:
        if record.committee is None:
            continue
        at, r, payload = record.committee.index, record.round_id, record.committee.payload
        members, dealer = record.members, payload.get("dealer")
        provider = str(payload.get("provider", ""))
        k, cooldown = int(record.setting("committee_size", 3)), int(record.setting("cooldown", 1))
        if provider not in ("ttp", "replicated"):
            out.append(
                Finding(
                    "provider",
                    at,
                    f"round {r}: provider {provider!r} is not allowed "
                    "(only ttp and replicated; TFP lets member 0 see everything)",
                )
            )
        if provider != record.setting("provider", provider):
            out.append(
                Finding(
                    "provider",
                    at,
                    f"round {r}: provider {provider!r} differs from "
                    f"the configured {record.setting('provider', '')!r}",
                )
            )
        if provider == "replicated" and (len(members) != 3 or dealer is not None):
            out.append(Finding("provider", at, f"round {r}: replicated needs 3 members, no dealer"))
        window = [drawn.get(q, []) for q in range(r - (cooldown - 1), r)] if cooldown > 1 else []
        served = set().union(*window)
        repeat = sorted(set(members) & served)
        if repeat:
            out.append(
                Finding(
                    "cooldown",
                    at,
                    f"round {r}: {', '.join(repeat)} served within "
                    f"the last {cooldown - 1} rounds (cooldown {cooldown})",
                )
            )
        if dealer is not None and dealer in members:
            out.append(Finding("dealer", at, f"round {r}: dealer {dealer} is also a member"))
        reveals = record.reveals.payload.get("reveals", {}) if record.reveals else {}
        seed = bytes.fromhex(str(payload.get("seed", "")) or "")
        pool = {c: keys[c] for c in eligible(sorted(reveals), window, cooldown) if c in keys}
        try:
            expected = list(draw_committee(seed, r, pool, k))
            expected_dealer = draw_dealer(seed, r, pool, expected) if provider == "ttp" else None
        except (NotEnoughCandidates, UserError) as err:
            out.append(Finding("committee", at, f"round {r}: no valid committee: {err.message}"))
            drawn[r] = members
            continue
        if members != expected:
            out.append(
                Finding(
                    "committee",
                    at,
                    f"round {r}: committee {members} is not the sortition's {expected}",
                )
            )
        if provider == "ttp" and dealer != expected_dealer:
            out.append(
                Finding(
                    "dealer",
                    at,
                    f"round {r}: dealer {dealer} is not the sortition's {expected_dealer}",
                )
            )
        drawn[r] = members
    return out
