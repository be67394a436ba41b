"""When an instance may leave the shared model: a size floor and an evidence bar.

An instance compares its candidates (:mod:`mpcrec.model.personal`) on its own users'
validation items only. :func:`choose` moves it off the shared model only if it has at least
``min_users`` validation users and the best candidate's mean gain beats ``z`` standard
errors of the paired per-user difference. Picking the best of eight candidates on a few
dozen users overstates its gain (the winner's curse), so the rule itself is chosen on
validation data too (:func:`pick_rule`): each instance's validation users are split in two
halves, the rule chooses on one half and is scored on the other (and the other way round,
over several random splits), and the rule with the best mean held-out gain over the
instances wins; ties go to the more conservative rule, and "never" (always shared, gain 0)
is in the grid, so a rule that does not help on held-out validation users is not used.
None of these functions ever sees a test item: they take per-user validation gains.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mpcrec.model.mf import Matrix

NEVER = 10**9
"""A ``min_users`` no instance reaches: the rule "always keep the shared model"."""


@dataclass(frozen=True)
class Rule:
    """Leave the shared model only with ``min_users`` users and a gain beyond ``z`` SE.

    ``candidate`` (if not empty) is the one candidate the instance may move to: the choice
    is then one comparison (its gain against ``shared``), not the best of many, so the
    winner's curse of a small instance is gone; the candidate itself is chosen for all
    instances together (:func:`pick_rule`).
    """

    min_users: int = 0
    z: float = 1.0
    candidate: str = ""

    def label(self) -> str:
        """A short human name, e.g. ``>= 30 users, 2 SE``, ``... : mix 0.5`` or ``never``."""
        if self.min_users >= NEVER:
            return "never"
        only = f": {self.candidate}" if self.candidate else ""
        return f">= {self.min_users} users, {self.z:g} SE{only}"


FIXED = ("offset 30", "mix 0.5", "mix 0.75")
"""The candidates a one-candidate rule may name."""
RULES: tuple[Rule, ...] = (
    Rule(NEVER, 2.0),
    *(Rule(n, z) for n in (100, 50, 30, 20, 0) for z in (3.0, 2.0, 1.0)),
    *(Rule(n, z, c) for c in FIXED for n in (100, 50, 20) for z in (2.0, 1.0, 0.0)),
)
"""The grid :func:`pick_rule` chooses from, most conservative first."""
SPLITS = 10
"""Random halvings of each instance's validation users scored by :func:`pick_rule`."""


def choose(gains: dict[str, Matrix], rule: Rule = Rule()) -> str:
    """The candidate with the best mean validation gain, if ``rule`` lets it beat ``shared``.

    Parameters
    ----------
    gains:
        Per-user validation NDCG@10 of each candidate (``"shared"`` among them), all over
        the same users in the same order.
    rule:
        The size floor and the number of standard errors the gain must exceed.
    """
    n = gains["shared"].shape[0]
    if n < max(rule.min_users, 2):
        return "shared"
    if rule.candidate:
        gains = {k: gains[k] for k in ("shared", rule.candidate) if k in gains}
    best = max(gains, key=lambda name: float(gains[name].mean()))
    diff = gains[best] - gains["shared"]
    se = float(np.std(diff, ddof=1) / np.sqrt(n))
    return best if float(diff.mean()) > max(rule.z * se, 0.0) else "shared"


def held_out_gain(gains: dict[str, Matrix], rule: Rule, seed: int = 0) -> float:
    """The mean gain over ``shared`` of ``rule``'s choice, scored on users it did not see.

    The size floor applies to the whole instance (what is deployed); the evidence bar to
    the half the choice is made on. Averaged over :data:`SPLITS` random halvings.
    """
    n = gains["shared"].shape[0]
    if n < max(rule.min_users, 4):
        return 0.0
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(SPLITS):
        order = rng.permutation(n)
        halves = (order[: n // 2], order[n // 2 :])
        for seen, unseen in (halves, halves[::-1]):
            half = {k: v[seen] for k, v in gains.items()}
            choice = choose(half, Rule(0, rule.z, rule.candidate))
            total += float((gains[choice][unseen] - gains["shared"][unseen]).mean())
    return total / (2 * SPLITS)


def rule_scores(
    instances: Sequence[dict[str, Matrix]], rules: Sequence[Rule] = RULES, seed: int = 0
) -> list[float]:
    """Every rule's mean held-out validation gain over ``instances`` (same splits for all)."""
    return [
        float(np.mean([held_out_gain(g, rule, seed + k) for k, g in enumerate(instances)]))
        for rule in rules
    ]


def pick_rule(
    instances: Sequence[dict[str, Matrix]], rules: Sequence[Rule] = RULES, seed: int = 0
) -> Rule:
    """The rule with the best mean held-out validation gain (first, most conservative, on ties)."""
    if not instances:
        return rules[0]
    scores = rule_scores(instances, rules, seed)
    return rules[int(np.argmax(scores))]
