"""``user_budget`` on a config entry: a ``dpals`` count release's two multipliers are the
exact split of the declared budget.

A config entry whose round parameters carry a ``count_noise_multiplier`` declares a whole
plan (docs/privacy-accounting.md, "The head of the catalogue"): the count release at
``z_count``, then ``ALS_DP.iterations`` rounds of statistics at ``z``, every user in each
(``user_rate`` 1). The launcher derives the pair from its declared budget with
:func:`mpcrec.privacy.joint.split_budget` (``ALS_DP.count_share`` of ``1 / z1^2`` to the
counts; ``mpcrec.federation.dpals_noise.dpals_multipliers``, a layer above the auditor, is
this very call), and every node derives it again from the ε the pair spends
(``floor-user-dp``). The auditor derives it from the entry's own budget and δ and names the
entry, for the round it is in force from, when either multiplier is below that split:

* budget moved from one release to the other (one multiplier below the split, the other
  above it: ε in all may still be within the budget);
* less noise than the declared split (both below it: the plan spends more than the budget,
  which the rounds' own ``user_budget`` check names only once they are revealed);
* a count release not at user level, at a sample rate below 1, or without statistics
  noise (the nodes refuse each, whatever their ``require_user_level``).

This needs no revealed round: the nodes refuse such parameters before they upload, so the
config entry may be all the log holds of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mpcrec.audit.entries import LogEntry
from mpcrec.audit.history import Finding
from mpcrec.model.tuned_dpals import ALS_DP
from mpcrec.privacy.budget import USER, epsilon_spent
from mpcrec.privacy.joint import split_budget

RULE = "user_budget"

#: Relative slack for the accountant's root finding (the nodes' ``count_split.TOLERANCE``).
TOLERANCE = 1e-6


def budget_split(epsilon: float, delta: float) -> tuple[float, float]:
    """``(z, z_count)``: the statistics' and the count release's multipliers of a
    ``dpals`` plan at ``epsilon`` (the launcher's derivation, module docstring)."""
    z, z_count, _ = split_budget(
        epsilon=epsilon, delta=delta, rounds=ALS_DP.iterations, first_share=ALS_DP.count_share
    )
    return z, z_count


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def _split_finding(entry: LogEntry, params: Mapping[str, Any]) -> Finding | None:
    """The finding on one config entry with a count release, or ``None`` when it holds."""
    payload = entry.payload
    budget, delta = _number(payload.get("epsilon_budget")), float(payload.get("delta", 1e-5))
    z, z_count = _number(params.get("noise_multiplier")), _number(params["count_noise_multiplier"])
    rate, sensitivity = params.get("user_rate"), params.get("sensitivity")
    where = f"round {entry.round}: the count release's z {z_count!r} and the statistics' z {z!r}"
    if z is None or z_count is None or sensitivity != USER or rate != 1.0 or not z > 0:
        why = (
            f"{where} at sensitivity {sensitivity!r} and sample rate {rate!r}: a count "
            "release needs user level at rate 1 and z > 0"
        )
        return Finding(RULE, entry.index, why)
    if budget is None:
        return None  # no promise: nothing to split (the report states the epsilon spent)
    want_z, want_count = budget_split(budget, delta)
    ratios = (z / want_z, z_count / want_count)
    if min(ratios) >= 1 - TOLERANCE:
        return None
    spent = epsilon_spent([(z_count, 1.0)] + [(z, 1.0)] * ALS_DP.iterations, delta=delta)
    moved = max(ratios) > 1 + TOLERANCE  # one release above the split, the other below
    how = "budget moved between the two releases" if moved else "less noise than that split"
    over = ", above the budget" if spent > budget else ""
    why = (
        f"{where} are not the split of the declared budget {budget:g} at delta {delta:g} "
        f"({want_count:.4f} and {want_z:.4f}, {ALS_DP.count_share:g} of it to the counts): {how}: "
        f"the plan spends epsilon {spent:.4f}{over}"
    )
    return Finding(RULE, entry.index, why)


def check_release_split(configs: Sequence[LogEntry]) -> list[Finding]:
    """The rule of the module docstring over every user-level config entry."""
    out: list[Finding] = []
    for entry in configs:
        params = entry.payload.get("params")
        if entry.payload.get("privacy_unit") != USER or not isinstance(params, dict):
            continue
        if params.get("count_noise_multiplier"):
            found = _split_finding(entry, params)
            out += [found] if found is not None else []
    return out
