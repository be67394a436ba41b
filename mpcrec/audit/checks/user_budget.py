"""``user_budget``: user-level ε recomputed from the log, against the declared budget.

Under a config entry whose ``privacy_unit`` is ``"user"``, every round in which a member
signed a result counts (published or not, as for ``budget``), as one step of the Poisson
subsampled Gaussian mechanism with the signed user-level noise multiplier ``z`` and sample
rate ``q``: :func:`mpcrec.privacy.budget.epsilon_spent`, the function the launcher and the
nodes use, with the accountant the log names (:mod:`~mpcrec.audit.checks.budget_accountant`:
``gdp``, the exact curve, when every round has ``q = 1`` as DP-ALS's do; RDP, Mironov,
Talwar, Zhang 2019 with the Balle et al. 2020 conversion, otherwise and for logs written
before the name). The rule holds when

* every such round's first signed result names ``sensitivity: user`` with the ``z`` and
  ``q`` of the round parameters in force (a ``dpals`` federation's count release, the
  round that made model version 1, its ``count_noise_multiplier``: each round's ε at its
  own ``z``, composed exactly under GDP);
* the user-level parameters (``z``, ``q``, ``C_u``, ``z_count``) and the promise
  (budget, δ) stay the same over the run: a config entry that changes them after a
  user-level round was revealed is named (the nodes and the users were told one mechanism);
* the cumulative ε never exceeds the declared budget (the first round over it is named);
* the accountant the log names applies (``gdp`` only over rounds of ``q = 1``);
* a config entry with a ``dpals`` count release signs the exact split of its declared
  budget, revealed rounds or not (:mod:`~mpcrec.audit.checks.release_split`).

Rounds under instance-level configs are the ``budget`` rule's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpcrec.audit.checks.budget_accountant import logged_accountant
from mpcrec.audit.checks.params import round_noise_multiplier
from mpcrec.audit.checks.release_split import check_release_split
from mpcrec.audit.history import Finding, History, RoundRecord
from mpcrec.privacy.budget import USER, Mechanism, epsilon_spent, first_over_budget

RULE = "user_budget"


def _terms(record: RoundRecord) -> tuple[Any, ...]:
    """What a user-level run must keep: (z, q, C_u, budget, δ, z_count) of the config in
    force (``z_count`` ``None`` without a count release)."""
    params: Mapping[str, Any] = dict(record.setting("params", {}))
    return (
        params.get("noise_multiplier"),
        params.get("user_rate"),
        params.get("user_clip_norm"),
        record.setting("epsilon_budget", None),
        record.setting("delta", 1e-5),
        params.get("count_noise_multiplier"),
    )


def _mechanism(record: RoundRecord) -> tuple[Mechanism | None, list[Finding]]:
    """The signed mechanism of a revealed round, or findings when it is not the config's."""
    first = min(record.signatures.values(), key=lambda e: e.index)
    result = first.payload.get("result", {})
    z, q = round_noise_multiplier(dict(record.setting("params", {})), result), _terms(record)[1]
    signed = (result.get("sensitivity"), result.get("noise_multiplier"), result.get("sample_rate"))
    if signed != (USER, z, q) or not isinstance(z, (int, float)) or not isinstance(q, (int, float)):
        why = (
            f"round {record.round_id}: a user-level run, but the result signs sensitivity, "
            f"noise multiplier and sample rate {signed}, the parameters say {(USER, z, q)}"
        )
        return None, [Finding(RULE, first.index, why)]
    return (float(z), float(q)), []


def check_user_budget(history: History) -> tuple[list[Finding], float]:
    """The rule of the module docstring; returns the findings and the user-level ε the
    revealed rounds spent (``0.0`` before any)."""
    out: list[Finding] = check_release_split(history.configs)
    mechanisms: list[Mechanism] = []
    first_terms: tuple[Any, ...] | None = None
    revealed: list[RoundRecord] = []
    for record in history.rounds:
        if record.setting("privacy_unit", "instance") != USER or not record.signatures:
            continue
        terms = _terms(record)
        if first_terms is None:
            first_terms = terms
        elif terms != first_terms and record.config is not None:
            why = (
                f"round {record.round_id}: the user-level mechanism changed mid-run "
                f"(z, q, C_u, budget, delta, z_count) {first_terms} -> {terms}"
            )
            out.append(Finding(RULE, record.config.index, why))
            first_terms = terms
        mechanism, found = _mechanism(record)
        out += found
        if mechanism is not None:
            mechanisms.append(mechanism)
            revealed.append(record)
    if first_terms is None:
        return out, 0.0
    budget, delta = first_terms[3], float(first_terms[4])
    accountant, found = logged_accountant(RULE, revealed, mechanisms)
    out += found
    spent = epsilon_spent(mechanisms, delta=delta, accountant=accountant)
    over = (
        None
        if budget is None
        else first_over_budget(mechanisms, delta=delta, budget=budget, accountant=accountant)
    )
    if over is not None:
        record = revealed[over - 1]
        at = record.published or min(record.signatures.values(), key=lambda e: e.index)
        why = (
            f"round {record.round_id}: cumulative user-level epsilon "
            f"{epsilon_spent(mechanisms[:over], delta=delta, accountant=accountant):.3f} at "
            f"delta {delta:g} exceeds the budget {budget:g}"
            + ("" if record.published else " (revealed to the launcher, not published)")
        )
        out.append(Finding(RULE, at.index, why))
    return out, spent
