"""The auditor's checks: pure functions over entries (or their replayed history).

Each returns a list of :class:`~mpcrec.audit.history.Finding`, empty when its rule holds;
every finding names the entry (log index) and the rule it breaks. No I/O anywhere: the
verifier (:mod:`mpcrec.audit.verify`) parses, runs them all and reports.

Rules: ``sequence`` (indices), ``signature``, ``key`` (pinned keys), ``tree`` and ``fork``
(Merkle heads), ``order`` (round protocol), ``reveal`` and ``seed`` (commit-reveal),
``committee``, ``cooldown``, ``dealer``, ``provider`` (no TFP), ``contribution``,
``member_signatures``, ``min_contributors``, ``model_hash``, ``version``, ``budget``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from committees.seed import combine_reveals, verify_chained_reveal
from committees.sortition import NotEnoughCandidates, draw_committee, draw_dealer, eligible
from mpcrec.audit import merkle
from mpcrec.audit.entries import LAUNCHER, LogEntry, TreeHead
from mpcrec.audit.history import Finding, History, RoundRecord
from mpcrec.audit.signatures import verify_all
from mpcrec.errors import UserError
from mpcrec.secure.accountant import RDPAccountant

#: Verifies many ``(raw public key, signature, message)`` triples at once (maybe in parallel).
BatchVerifier = Callable[[Sequence[tuple[bytes, bytes, bytes]]], list[bool]]


serial_verifier: BatchVerifier = verify_all


def check_sequence(entries: Sequence[LogEntry]) -> list[Finding]:
    """Entry ``i`` of the file carries index ``i``: catches deleted, inserted, swapped lines.

    Only the first break is reported: every later index is off for the same cause.
    """
    present = {entry.index for entry in entries}
    for position, entry in enumerate(entries):
        if entry.index == position:
            continue
        if position not in present:
            why = f"entry {position} was deleted"
        elif entry.index > position:
            why = f"entry {position} comes later in the file: entries were reordered"
        else:
            why = f"entry {entry.index} was already seen: entries were reordered or repeated"
        return [
            Finding(
                "sequence",
                position,
                f"the {position}th entry of the file carries index {entry.index}: {why}",
            )
        ]
    return []


def signature_batch(
    entries: Sequence[LogEntry], keys: Mapping[str, bytes]
) -> tuple[list[tuple[bytes, bytes, bytes]], list[LogEntry], list[Finding]]:
    """The ``(key, signature, message)`` triples to verify, their entries, and the entries
    whose author has no key at all (as findings)."""
    items: list[tuple[bytes, bytes, bytes]] = []
    checked: list[LogEntry] = []
    out: list[Finding] = []
    for entry in entries:
        key = keys.get(entry.author)
        if key is None:
            out.append(
                Finding(
                    "signature", entry.index, f"{entry.kind} by unknown author {entry.author!r}"
                )
            )
            continue
        items.append((key, entry.signature, entry.signed_bytes()))
        checked.append(entry)
    return items, checked, out


def signature_findings(
    checked: Sequence[LogEntry], results: Sequence[bool], keys: Mapping[str, bytes]
) -> list[Finding]:
    """Findings for the entries whose signature failed; names the real signer if known."""
    out: list[Finding] = []
    for entry, ok in zip(checked, results, strict=True):
        if ok:
            continue
        message = entry.signed_bytes()
        others = [
            who
            for who, key in keys.items()
            if who != entry.author and verify_all([(key, entry.signature, message)])[0]
        ]
        signer = f"; it is signed by {others[0]}'s key instead" if others else ""
        out.append(
            Finding(
                "signature",
                entry.index,
                f"{entry.kind} for round {entry.round}: not signed by its author "
                f"{entry.author}'s key{signer} (or the entry was altered)",
            )
        )
    return out


def check_signatures(
    entries: Sequence[LogEntry],
    keys: Mapping[str, bytes],
    *,
    verifier: BatchVerifier = serial_verifier,
) -> list[Finding]:
    """Every entry verifies under its author's key (``keys``: author id -> raw key).

    For an entry that fails, the other known keys are tried, to name who really signed it.
    """
    items, checked, out = signature_batch(entries, keys)
    return out + signature_findings(checked, verifier(items), keys)


def check_pinned_keys(history: History, pinned: Mapping[str, bytes]) -> list[Finding]:
    """Registered keys (and the launcher's) equal the keys the auditor got out of band."""
    out: list[Finding] = []
    registry = history.signing_keys()
    for instance, entry in history.registrations.items():
        registered = registry.get(instance)
        if instance in pinned and registered != pinned[instance]:
            out.append(
                Finding("key", entry.index, f"{instance} registered another key than pinned")
            )
        elif instance not in pinned:
            out.append(Finding("key", entry.index, f"{instance} is not in the auditor's key file"))
    launcher = history.launcher_key()
    if LAUNCHER in pinned and history.configs and launcher != pinned[LAUNCHER]:
        out.append(
            Finding(
                "key", history.configs[0].index, "config names another launcher key than pinned"
            )
        )
    return out


def check_tree(
    entries: Sequence[LogEntry], heads: Sequence[tuple[str, TreeHead]], launcher_key: bytes | None
) -> list[Finding]:
    """Every signed head (``(where, head)``, e.g. ``("line 12", head)``) matches the Merkle
    root of the entries it covers.

    A head that does not match while another signed head of at least its size matches means
    the launcher signed two histories: a ``fork``. Otherwise the entries changed after
    signing (or the launcher signed a head over entries it never exported): ``tree``.
    """
    sizes = {h.size for _, h in heads}
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT} if 0 in sizes else {}
    acc = merkle.RootAccumulator()
    for entry in entries:
        acc.append(merkle.leaf_hash(entry.leaf_bytes()))
        if acc.size in sizes:
            roots[acc.size] = acc.root()
    signed = verify_all([(launcher_key or b"", h.signature, h.signed_bytes()) for _, h in heads])
    matching = [
        ok and roots.get(h.size) == h.root for (_, h), ok in zip(heads, signed, strict=True)
    ]
    out: list[Finding] = []
    last_good, mismatched = 0, 0
    largest: dict[str, int] = {}  # per source file: heads only grow within one file
    for n, (line, head) in enumerate(heads):
        where = f"tree head at {line} (size {head.size})"
        if not signed[n]:
            out.append(Finding("tree", None, f"{where}: not signed by the launcher key"))
            continue
        source = line.rsplit("line ", 1)[0]
        if head.size < largest.get(source, 0):
            out.append(Finding("tree", None, f"{where}: smaller than an earlier head"))
        largest[source] = max(largest.get(source, 0), head.size)
        if head.size not in roots:
            out.append(Finding("tree", None, f"{where}: covers more entries than the log holds"))
        elif matching[n]:
            last_good = max(last_good, head.size)
        else:
            if any(matching[j] and heads[j][1].size >= head.size for j in range(len(heads))):
                out.append(
                    Finding(
                        "fork",
                        head.size - 1,
                        f"{where}: the launcher signed "
                        "another history than the one another signed head covers "
                        "(two inconsistent heads)",
                    )
                )
            elif (mismatched := mismatched + 1) == 1:
                out.append(
                    Finding(
                        "tree",
                        head.size - 1,
                        f"{where}: root does not match "
                        f"entries 0..{head.size - 1}: one of entries {last_good}.."
                        f"{head.size - 1} was altered, removed or reordered after "
                        "the launcher signed this head",
                    )
                )
    if mismatched > 1:
        out.append(Finding("tree", None, f"{mismatched - 1} later heads do not match either"))
    last_size = largest.get("", 0)  # the log's own heads
    if heads and last_size < len(entries):
        out.append(
            Finding(
                "tree",
                len(entries) - 1,
                f"the last {len(entries) - last_size} "
                "entries are not covered by any signed tree head",
            )
        )
    return out


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
        reveals = _hex_map(record.reveals.payload.get("reveals", {}))
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


def _hex_map(raw: Any) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            try:
                out[str(key)] = bytes.fromhex(str(value))
            except ValueError:
                out[str(key)] = b""
    return out


def _cfg(record: RoundRecord, name: str, default: Any) -> Any:
    return record.config.payload.get(name, default) if record.config else default


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
        k, cooldown = int(_cfg(record, "committee_size", 3)), int(_cfg(record, "cooldown", 1))
        if provider not in ("ttp", "replicated"):
            out.append(
                Finding(
                    "provider",
                    at,
                    f"round {r}: provider {provider!r} is not allowed "
                    "(only ttp and replicated; TFP lets member 0 see everything)",
                )
            )
        if provider != _cfg(record, "provider", provider):
            out.append(
                Finding(
                    "provider",
                    at,
                    f"round {r}: provider {provider!r} differs from "
                    f"the configured {_cfg(record, 'provider', '')!r}",
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


def check_results(history: History) -> list[Finding]:
    """Published rounds: every member signed one identical result; it lists the round's
    contributions each accepted or rejected with its digest; enough were accepted; the
    published hash is the signed one."""
    out: list[Finding] = []
    for record in history.rounds:
        if record.published is None:
            continue
        r, at = record.round_id, record.published.index
        members = record.members
        results = {m: e.payload.get("result", {}) for m, e in record.signatures.items()}
        strangers = sorted(set(results) - set(members))
        if strangers:
            out.append(
                Finding(
                    "member_signatures",
                    record.signatures[strangers[0]].index,
                    f"round {r}: result signed by non-members {strangers}",
                )
            )
        unsigned = [m for m in members if m not in results]
        if unsigned:
            out.append(
                Finding(
                    "member_signatures",
                    at,
                    f"round {r}: published without the "
                    f"signature of member(s) {', '.join(unsigned)}",
                )
            )
        distinct = {repr(sorted(v.items())) for v in results.values()}
        if len(distinct) > 1:
            out.append(
                Finding("member_signatures", at, f"round {r}: members signed different results")
            )
        if not results:
            continue
        result = next(iter(results.values()))
        accepted, rejected = _hex_map(result.get("accepted")), _hex_map(result.get("rejected"))
        for instance, entry in record.contributions.items():
            digest = bytes.fromhex(str(entry.payload.get("digest", "")) or "")
            if accepted.get(instance, rejected.get(instance)) != digest:
                out.append(
                    Finding(
                        "contribution",
                        entry.index,
                        f"round {r}: contribution of "
                        f"{instance} is neither accepted nor rejected with its digest",
                    )
                )
        ghosts = sorted((set(accepted) | set(rejected)) - set(record.contributions))
        if ghosts:
            out.append(
                Finding(
                    "contribution",
                    at,
                    f"round {r}: result counts contributions never logged: {', '.join(ghosts)}",
                )
            )
        minimum = int(_cfg(record, "min_contributors", 1))
        counted = len(set(accepted) & set(record.contributions))
        if counted < minimum:
            out.append(
                Finding(
                    "min_contributors",
                    at,
                    f"round {r}: published with {counted} "
                    f"accepted contributions, fewer than the minimum {minimum}",
                )
            )
        if result.get("model_hash") != record.published.payload.get("model_hash"):
            out.append(
                Finding(
                    "model_hash",
                    at,
                    f"round {r}: the published model hash is not the one the members signed",
                )
            )
        if result.get("round") != r:
            out.append(
                Finding(
                    "member_signatures",
                    at,
                    f"round {r}: the signed result names round {result.get('round')}",
                )
            )
    return out


def check_versions(history: History) -> list[Finding]:
    """Model versions move by one on each publish and never otherwise; every round starts
    from the latest published version and every contribution is for it."""
    out: list[Finding] = []
    version = None
    for record in history.rounds:
        r, base = record.round_id, record.opened.payload.get("model_version")
        if version is not None and base != version:
            out.append(
                Finding(
                    "version",
                    record.opened.index,
                    f"round {r} opens on model "
                    f"version {base}, but the latest published is {version}",
                )
            )
        base = base if version is None else version
        for instance, entry in record.contributions.items():
            if entry.payload.get("model_version") != base:
                out.append(
                    Finding(
                        "version",
                        entry.index,
                        f"round {r}: {instance} contributed "
                        f"to version {entry.payload.get('model_version')}, not {base}",
                    )
                )
        if record.published is not None:
            new = record.published.payload.get("model_version")
            signed = {
                e.payload.get("result", {}).get("model_version") for e in record.signatures.values()
            }
            if new != (base or 0) + 1 or signed != {new}:
                out.append(
                    Finding(
                        "version",
                        record.published.index,
                        f"round {r}: published version {new}, expected {(base or 0) + 1} as signed",
                    )
                )
            version = new
        elif version is None:
            version = base
    return out


def check_budget(history: History) -> tuple[list[Finding], float]:
    """Cumulative ε of the published rounds (their signed noise) stays within the budget.

    ε never decreases as rounds are added, so with one budget and δ throughout, the final
    ε decides and a bisection finds the first round over budget. Returns the findings and
    the ε spent at the configured δ.
    """
    spent: list[tuple[RoundRecord, float, float, float, float]] = []
    for record in history.rounds:
        if record.published is None or not record.signatures:
            continue
        result = next(iter(record.signatures.values())).payload["result"]
        spent.append(
            (
                record,
                float(result["noise_multiplier"]),
                float(result["sample_rate"]),
                float(_cfg(record, "delta", 1e-5)),
                float(_cfg(record, "epsilon_budget", math.inf)),
            )
        )
    if not spent:
        return [], 0.0

    def epsilon_after(n: int) -> float:
        accountant = RDPAccountant()
        for _, z, q, _, _ in spent[:n]:
            accountant.step(noise_multiplier=z, sample_rate=q)
        return accountant.get_epsilon(spent[n - 1][3])

    final = epsilon_after(len(spent))
    if len({(d, b) for *_, d, b in spent}) == 1:
        if final <= spent[0][4]:
            return [], final
        low, high = 0, len(spent)  # eps(low) <= budget < eps(high)
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if epsilon_after(mid) <= spent[0][4] else (low, mid)
        first = high
    else:
        first = next((n for n in range(1, len(spent) + 1) if epsilon_after(n) > spent[n - 1][4]), 0)
        if not first:
            return [], final
    record, _, _, delta, budget = spent[first - 1]
    assert record.published is not None
    message = (
        f"round {record.round_id}: cumulative epsilon {epsilon_after(first):.3f} at delta "
        f"{delta:g} exceeds the budget {budget:g}"
    )
    return [Finding("budget", record.published.index, message)], final
