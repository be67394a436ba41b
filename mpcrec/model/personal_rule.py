"""When an instance may leave the shared model: a size floor, a one-sided bar, a shrinkage.

An instance compares ONE candidate (:mod:`mpcrec.model.personal`) with the shared model on
its own users' validation items only. :func:`choose` moves it off the shared model only if
it has at least ``min_users`` validation users and the candidate's mean paired gain beats
``z`` standard errors of the per-user difference (a one-sided test: the margin grows with
the instance's own standard error). The candidate is either fixed (``candidate``) or a
mixture with the instance's own model whose weight shrinks toward the shared model with the
instance's size, ``min(n / (n + shrink), cap)`` (empirical-Bayes shrinkage by size, at that
exact weight: until 2026-12-02 it was snapped to the nearest of the fixed mixtures, which
gave an instance of 262 users ``mix 1``, its own model alone, for ``n / (n + 25) = 0.91``;
the cap keeps a share of the shared model however large the instance).

The rule's knobs are themselves chosen on validation data, by replaying the whole protocol
one item earlier in time (:func:`pick_rule`): each instance chooses on its users' third-last
item (a model trained without their last three) and the choice is *confirmed* on their
second-last item (the validation item, a model trained without their last two), exactly as
the deployed choice is made on the validation item and reported on the test item. The
picked rule has the best mean confirmed gain over the instances among the rules whose
*predicted losers* are at most :data:`MAX_PREDICTED_LOSERS` in a run of :data:`RUN`
instance-seeds (the target's: 3 seeds x 20 instances). A loser is an instance of >=
:data:`LOSER_FLOOR` users worse than shared by more than its standard error, i.e. a paired
z-score below -1 on a fresh item. The confirmed z-scores of the instances a rule moves
are a sample of exactly that z on a fresh item (each is the instance's true effect plus
unit noise), so a normal fitted to them (mean ``m``, spread ``s``, at least 1: the noise
alone) predicts the loser rate ``Phi((-1 - m) / s)``: a smooth estimate, where counting the
few confirmed losers of forty instances would let a rule through on luck. The mean is
shrunk toward no effect as if :data:`NULL_PSEUDO` more instances had moved with ``z = 0``
(``m = sum z / (k + 2)`` for ``k`` moved): without it a rule that moves two or three
instances, all with high z, predicts almost no loser, and on the shared model ``ALS_DP``
such rules lost on the left-out seed's replay about five times as often as predicted
(2026-12-02, validation items only; docs/model.md). "Never"
(always shared: gain 0, no loser) is in the grid and wins ties, so a rule that does not
help is not used. None of these functions ever sees a test item: they take per-user
validation gains.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mpcrec.model.mf import Matrix

NEVER = 10**9
"""A ``min_users`` no instance reaches: the rule "always keep the shared model"."""
LOSER_FLOOR = 20
"""The target's size: an instance of at least this many users must not lose beyond its SE."""
RUN = 60
"""Instance-seeds in the target's run (3 seeds x 20 instances): predicted losers are per run."""
MAX_PREDICTED_LOSERS = 0.1
"""Predicted losers per run a picked rule may have: a Poisson chance of none of 90 %
(0.5 until 2026-12-02, with the uncorrected predictor: 61 %)."""
NULL_PSEUDO = 2
"""Pseudo-instances at ``z = 0`` the fitted mean is shrunk with (not the spread: a rule
whose few moved instances all gain clearly must still be able to pass)."""


@dataclass(frozen=True)
class Rule:
    """Leave the shared model for one candidate with ``min_users`` users and a gain > ``z`` SE.

    ``candidate`` names the one candidate; if ``shrink`` is positive the candidate is
    instead the mixture of local weight ``min(n / (n + shrink), cap)`` for an instance of
    ``n`` validation users (:func:`shrunk_name`; small instances lean on the shared model,
    and no instance leaves it by more than ``cap``). Either way the choice is one
    comparison with ``shared``, not the best of many (no winner's curse).
    """

    min_users: int = 0
    z: float = 1.0
    candidate: str = ""
    shrink: float = 0.0
    cap: float = 1.0
    max_users: int = NEVER

    def label(self) -> str:
        """A short human name, e.g. ``>= 20 users, 1.5 SE: mix n/(n+50)`` or ``never``.

        A ceiling reads ``2-19 users``; the bar ``z = -inf`` reads ``always`` (no
        per-instance test: every instance of the size range moves).
        """
        if self.min_users >= NEVER:
            return "never"
        if self.shrink > 0:
            only = f": {shrunk_name(self.shrink, self.cap)}"
        else:
            only = f": {self.candidate}" if self.candidate else ""
        size = (
            f">= {self.min_users}"
            if self.max_users >= NEVER
            else (f"{self.min_users}-{self.max_users}")
        )
        bar = "always" if math.isinf(self.z) and self.z < 0 else f"{self.z:g} SE"
        return f"{size} users, {bar}{only}"


FIXED = ("offset 30", "mix 0.25", "mix 0.5", "mix 0.75")
"""The fixed candidates a rule may name."""
SHRINKS = (25.0, 50.0, 100.0)
"""The size-shrinkage constants ``n0`` of the mixture weight ``n / (n + n0)``."""
CAPS = (1.0, 0.75, 0.5)
"""The largest local weight a shrunk mixture may reach (1: no cap)."""
FLOORS = (100, 50, 20)
BARS = (3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0)
RULES: tuple[Rule, ...] = (
    Rule(NEVER, 2.0),
    *(Rule(n, z, c) for c in FIXED for n in FLOORS for z in BARS),
    *(Rule(n, z, shrink=s, cap=c) for s in SHRINKS for c in CAPS for n in FLOORS for z in BARS),
)
"""The grid :func:`pick_rule` chooses from ("never" first: it wins ties)."""


def shrunk_weight(users: int, shrink: float, cap: float = 1.0) -> float:
    """The local model's weight ``min(n / (n + shrink), cap)`` for ``users`` users."""
    return min(users / (users + shrink), cap)


def shrunk_name(shrink: float, cap: float = 1.0) -> str:
    """The candidate name of a shrunk mixture, e.g. ``mix n/(n+25)`` or ``... <= 0.5``."""
    return f"mix n/(n+{shrink:g})" + (f" <= {cap:g}" if cap < 1 else "")


def candidate_for(rule: Rule, names: Sequence[str], users: int) -> str:
    """The one candidate ``rule`` lets an instance of ``users`` users compare with shared.

    A shrunk mixture is :func:`shrunk_name` (its weight for this instance's size is
    computed where the scores are, :func:`mpcrec.model.personal.candidate_scores`); ``""``
    if the instance has no such candidate.
    """
    if rule.shrink <= 0:
        return rule.candidate
    name = shrunk_name(rule.shrink, rule.cap)
    return name if name in names else ""


def paired(diff: Matrix) -> tuple[float, float]:
    """The mean of a per-user difference and its standard error (0 for one user)."""
    n = diff.shape[0]
    se = float(np.std(diff, ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    return float(diff.mean()), se


def choose(gains: Mapping[str, Matrix], rule: Rule = Rule()) -> str:
    """The rule's candidate if its mean validation gain over ``shared`` beats ``z`` SE.

    Parameters
    ----------
    gains:
        Per-user validation NDCG@10 of each candidate (``"shared"`` among them), all over
        the same users in the same order.
    rule:
        The size range, the number of standard errors the gain must exceed (``-inf``:
        none, the candidate is taken unseen) and the candidate (``rule.candidate == ""``
        and no shrinkage: the best of all candidates).
    """
    n = gains["shared"].shape[0]
    if n < max(rule.min_users, 2) or n > rule.max_users:
        return "shared"
    one = candidate_for(rule, list(gains), n)
    if one or rule.shrink > 0:
        gains = {k: gains[k] for k in ("shared", one) if k in gains}
    if math.isinf(rule.z) and rule.z < 0 and one in gains:
        return one  # "always": the rule, picked over many instances, is the only test
    best = max(gains, key=lambda name: float(gains[name].mean()))
    gain, se = paired(gains[best] - gains["shared"])
    return best if gain > max(rule.z * se, 0.0) else "shared"


@dataclass(frozen=True)
class Confirmation:
    """One rule replayed one item earlier: mean confirmed gain, losers counted and predicted.

    ``losers`` counts the confirmed losers; ``predicted_losers`` is the fitted estimate per
    :data:`RUN` instance-seeds (see the module's docstring); ``moved`` the instances moved.
    """

    rule: Rule
    gain: float
    losers: int
    moved: int
    predicted_losers: float = 0.0


def confirm(
    chosen_on: Sequence[Mapping[str, Matrix]],
    confirmed_on: Sequence[Mapping[str, Matrix]],
    rule: Rule,
) -> Confirmation:
    """Each instance chooses on ``chosen_on`` and is scored on ``confirmed_on`` (same users).

    ``losers`` counts the instances of at least :data:`LOSER_FLOOR` users whose confirmed
    gain is below minus its standard error (the target's test, on validation items).
    """
    gains, scores, moved = [], [], 0
    for before, after in zip(chosen_on, confirmed_on, strict=True):
        choice = choose(before, rule)
        gain, se = paired(after[choice] - after["shared"])
        gains.append(gain)
        moved += choice != "shared"
        if choice != "shared" and after["shared"].shape[0] >= LOSER_FLOOR:
            scores.append(gain / se if se > 0 else 0.0)
    losers = sum(z < -1.0 for z in scores)
    mean = float(np.mean(gains)) if gains else 0.0
    return Confirmation(rule, mean, losers, moved, predicted_losers(scores, len(gains)))


def predicted_losers(scores: Sequence[float], instances: int) -> float:
    """Losers per :data:`RUN` instance-seeds predicted from moved instances' confirmed z.

    A normal fitted to ``scores`` (mean shrunk as if :data:`NULL_PSEUDO` more had moved
    with ``z = 0``, spread at least 1) gives the rate of z below -1 for each of the
    ``len(scores)`` moved instances.
    """
    if not scores:
        return 0.0
    mean = float(np.sum(scores)) / (len(scores) + NULL_PSEUDO)
    spread = max(float(np.std(scores, ddof=1)) if len(scores) > 1 else 1.0, 1.0)
    rate = 0.5 * math.erfc((1.0 + mean) / (spread * math.sqrt(2.0)))
    return len(scores) * rate * RUN / instances


def confirmations(
    chosen_on: Sequence[Mapping[str, Matrix]],
    confirmed_on: Sequence[Mapping[str, Matrix]],
    rules: Sequence[Rule] = RULES,
) -> list[Confirmation]:
    """:func:`confirm` for every rule of the grid."""
    return [confirm(chosen_on, confirmed_on, rule) for rule in rules]


def pick_rule(
    chosen_on: Sequence[Mapping[str, Matrix]],
    confirmed_on: Sequence[Mapping[str, Matrix]],
    rules: Sequence[Rule] = RULES,
    max_predicted: float = MAX_PREDICTED_LOSERS,
) -> Rule:
    """The best mean confirmed gain among rules predicted to lose at most ``max_predicted``.

    Ties (and a grid where every rule loses too often) go to the first rule, "never" in
    :data:`RULES`.
    """
    scored = [
        c
        for c in confirmations(chosen_on, confirmed_on, rules)
        if c.predicted_losers <= max_predicted
    ]
    if not scored:
        return rules[0]
    return max(scored, key=lambda c: c.gain).rule


def calibration(
    chosen_on: Mapping[int, Sequence[Mapping[str, Matrix]]],
    confirmed_on: Mapping[int, Sequence[Mapping[str, Matrix]]],
    rules: Sequence[Rule] = RULES,
) -> list[dict[str, float]]:
    """The loser predictor checked out of sample: per seed, the OTHER seeds predict.

    For every seed (key) and rule: the losers predicted on the other seeds' replay (scaled
    to this seed's instances) against those counted on this seed's own, summed over the
    rules whose prediction per :data:`RUN` falls in each decade (``per_run_from`` 0.01
    holds ``[0.01, 0.1)``, 0 all below 0.001). Empty with one seed (nothing out of sample).
    """
    buckets: dict[int, list[float]] = {}
    for seed in confirmed_on if len(confirmed_on) > 1 else []:
        others = [s for s in confirmed_on if s != seed]
        pool = (
            [g for s in others for g in chosen_on[s]],
            [g for s in others for g in confirmed_on[s]],
        )
        own = confirmations(chosen_on[seed], confirmed_on[seed], rules)
        share = len(confirmed_on[seed]) / RUN
        for other, mine in zip(confirmations(*pool, rules), own, strict=True):
            p = other.predicted_losers
            decade = math.floor(math.log10(p)) if p >= 1e-3 else -99  # -99: below 0.001
            row = buckets.setdefault(decade, [0, 0, 0])
            row[0] += 1
            row[1] += p * share
            row[2] += mine.losers
    return [
        {
            "per_run_from": 10.0**d if d > -99 else 0.0,
            "rules": r[0],
            "predicted": r[1],
            "counted": r[2],
        }
        for d, r in sorted(buckets.items())
    ]
