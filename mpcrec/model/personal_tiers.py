r"""Two size tiers of personalisation, and the check that per-instance selection is noise.

Why (2026-12-02, ``ALS_DP``, seeds 0-2, every instance of >= 20 users, validation items):
the paired z-scores of a mixture's gain over the shared model have a spread of 1.0-1.1
around a mean of +0.4-0.5 (Cochran's Q 40 on 38 degrees of freedom for ``mix 0.5``): no
instance is detectably better suited to its own model than another
(:func:`heterogeneity`). A per-instance bar therefore picks the instances whose noise was
high, and their validation gains regress to the common small effect on a fresh item. And
a common effect of ``mu`` standard errors makes every moved instance of >= 20 users a
loser (``z < -1`` on test) with chance ``Phi(-1 - mu)``, 8 % at ``mu = 0.4``
(:func:`expected_losers`): the no-loser target allows a handful of such moves, not the
forty the mean would need.

What is left: the instances of fewer than :data:`~mpcrec.model.personal_rule.LOSER_FLOOR`
users, which the loser target does not judge (their standard error is too large), and in
z units the same effect is a larger NDCG gain for them. So a :class:`Policy` is two rules:
``small`` for instances below the floor, ``large`` for the others, each picked on the
replay one item earlier (:func:`pick_policy`): ``large`` as
:func:`~mpcrec.model.personal_rule.pick_rule` does, under the predicted-loser bound;
``small`` for the best mean confirmed gain alone (it cannot make a loser), from
:data:`SMALL_RULES`, with "never" first (ties keep the shared model). Nothing here sees a
test item.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mpcrec.model.mf import Matrix
from mpcrec.model.personal_rule import (
    CAPS,
    FIXED,
    LOSER_FLOOR,
    MAX_PREDICTED_LOSERS,
    NEVER,
    RULES,
    SHRINKS,
    Rule,
    choose,
    confirm,
    paired,
    pick_rule,
)

SMALL_BARS = (1.0, 0.0, -math.inf)
"""The bars a small-instance rule may set (``-inf``: every small instance moves)."""
SMALL_RULES: tuple[Rule, ...] = (
    Rule(NEVER, 2.0),
    *(Rule(2, z, c, max_users=LOSER_FLOOR - 1) for c in FIXED for z in SMALL_BARS),
    *(
        Rule(2, z, shrink=s, cap=c, max_users=LOSER_FLOOR - 1)
        for s in SHRINKS
        for c in CAPS
        for z in SMALL_BARS
    ),
)
"""The grid of the small tier ("never" first: it wins ties)."""


@dataclass(frozen=True)
class Policy:
    """``small`` decides for instances of fewer than ``LOSER_FLOOR`` users, ``large`` above."""

    small: Rule = SMALL_RULES[0]
    large: Rule = RULES[0]

    def label(self) -> str:
        """Both rules, e.g. ``< 20: 2-19 users, always: mix 0.25; >= 20: never``."""
        return f"< {LOSER_FLOOR}: {self.small.label()}; >= {LOSER_FLOOR}: {self.large.label()}"

    def choose(self, gains: Mapping[str, Matrix]) -> str:
        """The candidate this instance takes (on its own validation gains)."""
        small = gains["shared"].shape[0] < LOSER_FLOOR
        rule = self.small if small else self.large
        if small == (rule.min_users >= LOSER_FLOOR):  # a rule never decides the other tier
            return "shared"
        return choose(gains, rule)


def pick_policy(
    chosen_on: Sequence[Mapping[str, Matrix]],
    confirmed_on: Sequence[Mapping[str, Matrix]],
    max_predicted: float = MAX_PREDICTED_LOSERS,
    small_tier: bool = False,
) -> Policy:
    """Each tier's rule replayed one item earlier (see the module docstring).

    Without ``small_tier`` (the default since 2026-12-02) small instances keep the shared
    model: the small tier's pick, ``always: mix 0.5`` on both seed sets' replay, lost on
    test on both (docs/model.md).
    """
    large = pick_rule(chosen_on, confirmed_on, RULES, max_predicted=max_predicted)
    if not small_tier:
        return Policy(SMALL_RULES[0], large)
    scored = [confirm(chosen_on, confirmed_on, rule) for rule in SMALL_RULES]
    small = max(scored, key=lambda c: c.gain).rule  # max keeps the first of ties: "never"
    return Policy(small, large)


def heterogeneity(
    gains: Sequence[Mapping[str, Matrix]], candidate: str, floor: int = LOSER_FLOOR
) -> dict[str, float]:
    """Whether instances differ in what ``candidate`` gains them, beyond their noise.

    Over the instances of at least ``floor`` users whose paired difference is not all
    zero: the mean and spread of their z-scores (a spread near 1 is noise alone), and
    Cochran's ``Q`` (the inverse-variance weighted squares around the pooled gain) with
    its degrees of freedom (``Q`` near ``df``: no detectable heterogeneity).
    """
    z, gain, weight = [], [], []
    for g in gains:
        if g["shared"].shape[0] < floor or candidate not in g:
            continue
        mean, se = paired(g[candidate] - g["shared"])
        if se > 0:
            z.append(mean / se)
            gain.append(mean)
            weight.append(se**-2)
    if len(z) < 2:
        return {"instances": len(z), "mean_z": math.nan, "sd_z": math.nan, "q": math.nan}
    w, m = np.array(weight), np.array(gain)
    pooled = float(np.sum(w * m) / np.sum(w))
    return {
        "instances": len(z),
        "mean_z": float(np.mean(z)),
        "sd_z": float(np.std(z, ddof=1)),
        "q": float(np.sum(w * (m - pooled) ** 2)),
        "df": len(z) - 1,
        "pooled_gain": pooled,
    }


def expected_losers(moves: int, mean_z: float) -> float:
    """Instances worse beyond one SE among ``moves`` with a common effect of ``mean_z`` SE."""
    return moves * 0.5 * math.erfc((1.0 + mean_z) / math.sqrt(2.0))
