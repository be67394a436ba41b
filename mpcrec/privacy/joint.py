"""The budget of a run of unsampled Gaussian releases (DP-ALS): one ε, split over steps.

Releases with every unit in every step (sampling rate 1) are Gaussian mechanisms, so
``rounds`` releases of multiplier ``z`` and one of ``z_first`` compose EXACTLY into one
Gaussian of ``z1`` with ``1 / z1^2 = 1 / z_first^2 + rounds / z^2`` (``mu``-GDP with
``mu = 1 / z1``, :mod:`mpcrec.privacy.gdp`). :func:`split_budget` takes ``z1`` for the
target ε (:func:`~mpcrec.privacy.accountant.gaussian_noise_multiplier`, exact at sample rate
1, or by RDP with ``accountant="rdp"``: the calibration before 2026-12-01), splits it, and
recomputes ε with :func:`~mpcrec.privacy.budget.epsilon_spent` over the actual steps: the
function the launcher, the nodes and the auditor use.

Examples
--------
>>> z, z_first, eps = split_budget(epsilon=8.0, delta=1e-5, rounds=4, first_share=0.0)
>>> round(z, 3), z_first, round(eps, 3)
(1.2, inf, 8.0)
>>> round(split_budget(epsilon=8.0, delta=1e-5, rounds=4, first_share=0.0,
...                    accountant="rdp")[0], 3)
1.275
"""

from __future__ import annotations

import math

from mpcrec.errors import ConfigError
from mpcrec.privacy.accountant import gaussian_noise_multiplier
from mpcrec.privacy.budget import Mechanism, epsilon_spent


def split_budget(
    *,
    epsilon: float,
    delta: float,
    rounds: int,
    first_share: float,
    accountant: str | None = None,
) -> tuple[float, float, float]:
    """Noise multipliers of ``rounds`` equal releases and one first release, and the ε spent.

    Parameters
    ----------
    epsilon, delta:
        The target over the whole run (``epsilon=inf``: no noise, returns zeros).
    rounds:
        Number of equal releases.
    first_share:
        Fraction of the budget (of ``1 / z1^2``) for the first release, in ``[0, 1)``;
        0: no first release (its multiplier is ``inf``).
    accountant:
        ``None`` (exact, ``gdp``) or ``"rdp"`` (the RDP calibration and ε).

    Returns
    -------
    tuple[float, float, float]
        ``(z_round, z_first, epsilon_spent)``.
    """
    if rounds < 1 or not 0.0 <= first_share < 1.0:
        raise ConfigError(
            f"rounds={rounds}, first_share={first_share}: need rounds >= 1, share in [0, 1)",
            hint="split the budget between at least one round and an optional first release",
        )
    if math.isinf(epsilon):
        return 0.0, 0.0, math.inf
    z1 = gaussian_noise_multiplier(
        target_epsilon=epsilon, steps=1, delta=delta, accountant=accountant
    )
    safe = 1.0 + 1e-12  # the split's rounding must not take the recomposed ε above target
    z_round = z1 * math.sqrt(rounds / (1.0 - first_share)) * safe
    z_first = z1 / math.sqrt(first_share) * safe if first_share else math.inf
    steps: list[Mechanism] = [(z_first, 1.0)] if first_share else []
    steps += [(z_round, 1.0)] * rounds
    return z_round, z_first, epsilon_spent(steps, delta=delta, accountant=accountant)
