"""Round outcomes: member-signed results, participation, model hashes and versions, budget."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mpcrec.audit.checks.budget_accountant import logged_accountant
from mpcrec.audit.history import Finding, History, RoundRecord
from mpcrec.audit.schema import hex_map
from mpcrec.privacy.budget import (
    USER,
    Mechanism,
    epsilon_spent,
    first_over_budgets,
    signed_mechanism,
)


def _signature_findings(record: RoundRecord) -> list[Finding]:
    """Only members signed, every member signed, and all signed one identical result."""
    assert record.published is not None
    r, at, members = record.round_id, record.published.index, record.members
    results = {m: e.payload.get("result", {}) for m, e in record.signatures.items()}
    out: list[Finding] = []
    strangers = sorted(set(results) - set(members))
    if strangers:
        first = record.signatures[strangers[0]].index
        why = f"round {r}: result signed by non-members {strangers}"
        out.append(Finding("member_signatures", first, why))
    unsigned = [m for m in members if m not in results]
    if unsigned:
        why = f"round {r}: published without the signature of member(s) {', '.join(unsigned)}"
        out.append(Finding("member_signatures", at, why))
    if len({repr(sorted(v.items())) for v in results.values()}) > 1:
        out.append(Finding("member_signatures", at, f"round {r}: members signed different results"))
    return out


def _accounting_findings(record: RoundRecord, result: Mapping[str, Any]) -> list[Finding]:
    """The signed result accounts for every logged contribution (by digest) and no other,
    and accepts at least ``min_contributors`` of them."""
    assert record.published is not None
    r, at = record.round_id, record.published.index
    accepted, rejected = hex_map(result.get("accepted")), hex_map(result.get("rejected"))
    out: list[Finding] = []
    for instance, entry in record.contributions.items():
        digest = bytes.fromhex(str(entry.payload.get("digest", "")) or "")
        if accepted.get(instance, rejected.get(instance)) != digest:
            why = (
                f"round {r}: contribution of {instance} is neither accepted nor rejected "
                "with its digest"
            )
            out.append(Finding("contribution", entry.index, why))
    ghosts = sorted((set(accepted) | set(rejected)) - set(record.contributions))
    if ghosts:
        why = f"round {r}: result counts contributions never logged: {', '.join(ghosts)}"
        out.append(Finding("contribution", at, why))
    minimum = int(record.setting("min_contributors", 1))
    counted = len(set(accepted) & set(record.contributions))
    if counted < minimum:
        why = (
            f"round {r}: published with {counted} accepted contributions, "
            f"fewer than the minimum {minimum}"
        )
        out.append(Finding("min_contributors", at, why))
    return out


def _publication_findings(record: RoundRecord, result: Mapping[str, Any]) -> list[Finding]:
    """The published hash is the signed one, and the signed result names this round."""
    assert record.published is not None
    r, at = record.round_id, record.published.index
    out: list[Finding] = []
    if result.get("model_hash") != record.published.payload.get("model_hash"):
        why = f"round {r}: the published model hash is not the one the members signed"
        out.append(Finding("model_hash", at, why))
    if result.get("round") != r:
        why = f"round {r}: the signed result names round {result.get('round')}"
        out.append(Finding("member_signatures", at, why))
    return out


def check_results(history: History) -> list[Finding]:
    """Published rounds: every member signed one identical result; it lists the round's
    contributions each accepted or rejected with its digest; enough were accepted; the
    published hash is the signed one."""
    out: list[Finding] = []
    for record in history.rounds:
        if record.published is None:
            continue
        out += _signature_findings(record)
        if not record.signatures:
            continue
        result = next(iter(record.signatures.values())).payload.get("result", {})
        out += _accounting_findings(record, result)
        out += _publication_findings(record, result)
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
    """Cumulative ε of the revealed rounds stays within the budget.

    A round counts once any member signed a result (it revealed the model to the launcher),
    published or not, with the noise multiplier and sample rate of its first signed result
    (at replace-one sensitivity: :func:`mpcrec.privacy.budget.signed_mechanism`), with the
    accountant the log names (:mod:`~mpcrec.audit.checks.budget_accountant`). The budget
    and δ are those of the config in force for each round; a config without a budget
    (``epsilon_budget`` null: no differential-privacy promise) lets every round pass.
    Rounds under a user-level config (``privacy_unit: user``) are ``user_budget``'s
    (:func:`~mpcrec.audit.checks.user_budget.check_user_budget`).
    Returns the findings (the accountant's, and the first round over budget) and the ε at the
    δ in force for the last revealed round (``inf`` once a round had no noise, ``0.0``
    before any).
    """
    spent: list[tuple[RoundRecord, Mechanism, float, float]] = []
    for record in history.rounds:
        if not record.signatures or record.setting("privacy_unit", "instance") == USER:
            continue
        first = min(record.signatures.values(), key=lambda e: e.index)
        budget = record.setting("epsilon_budget", None)
        spent.append(
            (
                record,
                signed_mechanism(first.payload["result"]),
                float(record.setting("delta", 1e-5)),
                math.inf if budget is None else float(budget),
            )
        )
    if not spent:
        return [], 0.0
    mechanisms = [m for _, m, _, _ in spent]
    accountant, found = logged_accountant("budget", [r for r, *_ in spent], mechanisms)
    final = epsilon_spent(mechanisms, delta=spent[-1][2], accountant=accountant)
    first_over = first_over_budgets(
        mechanisms,
        deltas=[d for *_, d, _ in spent],
        budgets=[b for *_, b in spent],
        accountant=accountant,
    )
    if first_over is None:
        return found, final
    record, _, delta, budget = spent[first_over - 1]
    at = record.published or min(record.signatures.values(), key=lambda e: e.index)
    message = (
        f"round {record.round_id}: cumulative epsilon "
        f"{epsilon_spent(mechanisms[:first_over], delta=delta, accountant=accountant):.3f} "
        f"at delta {delta:g} exceeds the budget {budget:g}"
        + ("" if record.published else " (revealed to the launcher, not published)")
    )
    return [*found, Finding("budget", at.index, message)], final
