"""The privacy budget: ε spent by revealed rounds, and how many more a budget affords.

A round counts once any member revealed its result (signed an ``ok`` result), published
or not: the launcher saw the model either way.

Pure arithmetic over :mod:`mpcrec.privacy.accountant`, shared by the auditor
(:func:`mpcrec.audit.checks.check_budget`, over the members' signed ``noise_multiplier`` and
``sample_rate``) and the launcher (which stops opening rounds before one would exceed the
declared budget), so both compute the same ε from the same mechanisms.

A *mechanism* is one published round's ``(noise_multiplier, sample_rate)``. ε never decreases
as rounds are added, so "the first round over budget" and "the rounds a budget affords" are
bisections.

Which accountant: when EVERY round of the sequence has sample rate 1 the rounds compose
exactly to one Gaussian and ε is the exact curve (:mod:`mpcrec.privacy.gdp`, accountant
``gdp``); any subsampled round puts the whole sequence under RDP (``rdp``, an upper bound).
Each function takes ``accountant=`` to force one: the auditor does, with the one a log's
config entry names (logs written before ``gdp`` name none and were accounted by RDP).

Examples
--------
>>> round(epsilon_spent([(1.0, 1.0)], delta=1e-5), 4)
4.3772
>>> round(epsilon_spent([(1.0, 1.0)], delta=1e-5, accountant="rdp"), 4)
4.7285
>>> epsilon_spent([(1.0, 1.0), (0.0, 1.0)], delta=1e-5)  # a round without noise
inf
>>> epsilon_spent([], delta=1e-5)
0.0
>>> rounds_within_budget([], (1.0, 1.0), delta=1e-5, budget=4.0)
0
>>> rounds_within_budget([], (4.0, 1.0), delta=1e-5, budget=8.0)
44
>>> rounds_within_budget([], (4.0, 1.0), delta=1e-5, budget=8.0, accountant="rdp")
39
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mpcrec.errors import ConfigError
from mpcrec.privacy.accountant import GDP, RDPAccountant, accountant_for
from mpcrec.privacy.gdp import composed_mu, gdp_epsilon

#: ``(noise_multiplier, sample_rate)`` of one round whose result was revealed.
Mechanism = tuple[float, float]

#: The noise's sensitivity convention rounds sign today: the committee's noise has standard
#: deviation ``z * 2 * C * max w``, so ``z`` is the replace-one noise multiplier itself.
REPLACE_ONE = "replace-one"

#: The user-level convention: the unit is one user at one instance; each instance samples its
#: users with the public rate ``q`` and clips each user's influence to ``C_u`` at home, and
#: the committee's noise has standard deviation ``z * C_u * max w`` (adding or removing one
#: user moves an instance's sum by at most ``C_u``: the add/remove adjacency of the sampled
#: Gaussian's analysis, Mironov, Talwar, Zhang 2019). ``z`` is the user-level multiplier.
USER = "user"


def replace_one_multiplier(noise_multiplier: float, sensitivity: str) -> float:
    """The noise multiplier of a round that signed ``noise_multiplier`` under ``sensitivity``
    at its own unit: ``z`` itself under :data:`REPLACE_ONE` (instance level) and :data:`USER`
    (user level); ``z / 2`` for a result that names
    no convention (logs written before it, whose noise had standard deviation ``z * C * max
    w`` while replacing one instance moves the sum by up to ``2 * C * max w``).

    >>> replace_one_multiplier(4.0, "replace-one"), replace_one_multiplier(4.0, "")
    (4.0, 2.0)
    """
    return noise_multiplier if sensitivity in (REPLACE_ONE, USER) else noise_multiplier / 2.0


def signed_mechanism(result: Mapping[str, Any]) -> Mechanism:
    """The mechanism of one signed result (the ``result`` of a ``result_signature`` entry):
    its replace-one noise multiplier (:func:`replace_one_multiplier`) and sample rate."""
    sensitivity = str(result.get("sensitivity") or "")
    z = replace_one_multiplier(float(result["noise_multiplier"]), sensitivity)
    return (z, float(result["sample_rate"]))


#: The most rounds :func:`rounds_within_budget` counts (a budget that affords more is
#: practically unbounded).
MAX_ROUNDS = 10**9


def resolve_accountant(rounds: Sequence[Mechanism], accountant: str | None) -> str:
    """``accountant``, or (``None``) :func:`~mpcrec.privacy.accountant.accountant_for` the
    rounds' sample rates; a :data:`~mpcrec.privacy.accountant.GDP` over a subsampled round is
    refused (the exact curve holds for sample rate 1 only)."""
    chosen = accountant or accountant_for([q for _, q in rounds])
    if chosen == GDP and any(q != 1.0 for _, q in rounds):
        raise ConfigError(
            "the exact Gaussian accountant (gdp) over subsampled rounds",
            hint="gdp holds for sample rate 1 only; subsampled rounds use rdp",
        )
    return chosen


def epsilon_spent(
    rounds: Sequence[Mechanism], *, delta: float, accountant: str | None = None
) -> float:
    """ε at ``delta`` after ``rounds``: exact when every round has sample rate 1
    (:mod:`mpcrec.privacy.gdp`), else RDP composition with the Balle et al. 2020 conversion
    (``accountant`` forces one: :func:`resolve_accountant`).

    ``0.0`` before any round; ``inf`` as soon as one round had no noise (``z = 0``).
    """
    if resolve_accountant(rounds, accountant) == GDP:
        return gdp_epsilon(composed_mu(z for z, _ in rounds), delta)
    return _accountant(rounds).get_epsilon(delta)


def _accountant(rounds: Sequence[Mechanism]) -> RDPAccountant:
    accountant = RDPAccountant()
    for noise_multiplier, sample_rate in rounds:
        accountant.step(noise_multiplier=noise_multiplier, sample_rate=sample_rate)
    return accountant


def _epsilon_after(
    spent: Sequence[Mechanism], mechanism: Mechanism, delta: float, accountant: str | None
) -> Callable[[int], float]:
    """``more -> ε`` of ``spent`` then ``more`` rounds of ``mechanism``."""
    if resolve_accountant([*spent, mechanism], accountant) == GDP:
        base = composed_mu(z for z, _ in spent) ** 2
        z = mechanism[0]
        per_round = math.inf if z == 0.0 else 1.0 / (z * z)
        return lambda more: gdp_epsilon(math.sqrt(base + more * per_round), delta)
    rdp = _accountant(spent)

    def epsilon(more: int) -> float:
        accountant = RDPAccountant(orders=rdp.orders)
        accountant.history = list(rdp.history)
        accountant.step(noise_multiplier=mechanism[0], sample_rate=mechanism[1], steps=more)
        return accountant.get_epsilon(delta)

    return epsilon


def rounds_within_budget(
    spent: Sequence[Mechanism],
    mechanism: Mechanism,
    *,
    delta: float,
    budget: float,
    limit: int = MAX_ROUNDS,
    accountant: str | None = None,
) -> int:
    """How many more rounds of ``mechanism``, after ``spent``, keep ε <= ``budget``.

    Capped at ``limit``; ``0`` when not even the next round fits (or ``spent`` already
    exceeds the budget); ``accountant`` as for :func:`epsilon_spent`.
    """
    eps = _epsilon_after(spent, mechanism, delta, accountant)
    if limit <= 0 or eps(1) > budget:
        return 0
    low, high = 1, 2  # eps(low) <= budget; search for eps(high) > budget
    while high <= limit and eps(high) <= budget:
        low, high = high, 2 * high
    if high > limit:
        if eps(limit) <= budget:
            return limit
        high = limit
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if eps(mid) <= budget else (low, mid)
    return low


def first_over_budget(
    rounds: Sequence[Mechanism], *, delta: float, budget: float, accountant: str | None = None
) -> int | None:
    """The 1-based number of the first round after which ε exceeds ``budget``, or ``None``
    (``accountant`` chosen once for the whole of ``rounds``: :func:`resolve_accountant`).

    >>> first_over_budget([(1.0, 1.0)] * 3, delta=1e-5, budget=8.0)
    3
    >>> first_over_budget([(1.0, 1.0)] * 2, delta=1e-5, budget=8.0) is None
    True
    """
    chosen = resolve_accountant(rounds, accountant)
    if math.isinf(budget) or epsilon_spent(rounds, delta=delta, accountant=chosen) <= budget:
        return None
    low, high = 0, len(rounds)  # eps(low) <= budget < eps(high)
    while high - low > 1:
        mid = (low + high) // 2
        within = epsilon_spent(rounds[:mid], delta=delta, accountant=chosen) <= budget
        low, high = (mid, high) if within else (low, mid)
    return high


def first_over_budgets(
    rounds: Sequence[Mechanism],
    *,
    deltas: Sequence[float],
    budgets: Sequence[float],
    accountant: str | None = None,
) -> int | None:
    """:func:`first_over_budget` when δ and the budget in force may change from round to round.

    Round ``n`` (1-based) is over budget when ε of the first ``n`` rounds, at ``deltas[n-1]``,
    exceeds ``budgets[n-1]``. With one δ and one budget throughout this is a bisection.

    >>> first_over_budgets([(1.0, 1.0)] * 3, deltas=[1e-5] * 3, budgets=[9.0, 9.0, 4.0])
    3
    >>> first_over_budgets([(1.0, 1.0)] * 3, deltas=[1e-5] * 3, budgets=[8.0] * 3)
    3
    """
    if not len(rounds) == len(deltas) == len(budgets):
        raise ValueError("one delta and one budget per round")
    if not rounds:
        return None
    chosen = resolve_accountant(rounds, accountant)
    if len(set(zip(deltas, budgets, strict=True))) == 1:
        return first_over_budget(rounds, delta=deltas[0], budget=budgets[0], accountant=chosen)
    return next(
        (
            n
            for n in range(1, len(rounds) + 1)
            if epsilon_spent(rounds[:n], delta=deltas[n - 1], accountant=chosen) > budgets[n - 1]
        ),
        None,
    )
