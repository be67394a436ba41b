"""Round outcomes: member-signed results, participation, model hashes and versions, budget."""

from __future__ import annotations

import math

from mpcrec.audit.history import Finding, History, RoundRecord
from mpcrec.audit.schema import hex_map
from mpcrec.secure.accountant import RDPAccountant


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
        accepted, rejected = hex_map(result.get("accepted")), hex_map(result.get("rejected"))
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
        minimum = int(record.setting("min_contributors", 1))
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
                float(record.setting("delta", 1e-5)),
                float(record.setting("epsilon_budget", math.inf)),
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
