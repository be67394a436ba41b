"""The launcher's privacy budget: which rounds were paid for, and whether one more fits.

Thin state over the pure arithmetic of :mod:`mpcrec.privacy.budget` (the Opacus split:
a stateful accountant over pure analysis). :class:`PrivacyBudget` holds the mechanisms of
the rounds revealed so far (published, or aborted after a member returned its result) and
the declared :class:`~mpcrec.federation.spec.PrivacyPromise`; the ε it reports is the one
an auditor computes from the same mechanisms (:func:`mpcrec.audit.checks.check_budget`).

Examples
--------
>>> from mpcrec.federation.round_params import RoundParams
from mpcrec.federation.spec import PrivacyPromise
>>> budget = PrivacyBudget(PrivacyPromise(epsilon_budget=8.0), mechanism=(4.0, 1.0), spent=[])
>>> budget.affordable  # exact: every round at sample rate 1 (RDP would afford 39)
44
>>> budget.record_revealed()
>>> budget.affordable, budget.rounds
(43, 1)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from mpcrec.federation.round_params import RoundParams
from mpcrec.federation.spec import PrivacyPromise
from mpcrec.privacy.budget import Mechanism, epsilon_spent, rounds_within_budget

log = logging.getLogger("mpcrec.launcher")


def finite_or_none(value: float) -> float | None:
    """``value``, or ``None`` when it is infinite (JSON has no infinity; events carry ε)."""
    return value if math.isfinite(value) else None


class PrivacyBudget:
    """The ε the revealed rounds spent against the declared promise.

    Parameters
    ----------
    promise:
        The declared budget and δ (no budget: nothing ever stops for privacy).
    mechanism:
        ``(noise_multiplier, sample_rate)`` of every round this launcher runs.
    spent:
        The mechanisms of the rounds already revealed (as the audit log records them).
    first:
        A ``dpals`` count release's mechanism (``None``: none): the next round's until one
        such round was revealed, the others' :attr:`mechanism` (a count round aborted after
        its reveal runs again at its own, larger, multiplier: counted as ``mechanism``, an
        upper bound of its ε).
    """

    def __init__(
        self,
        promise: PrivacyPromise,
        *,
        mechanism: Mechanism,
        spent: Sequence[Mechanism],
        first: Mechanism | None = None,
    ) -> None:
        self.promise = promise
        self.mechanism = mechanism
        self.first = first
        self._spent = list(spent)
        self._affordable = self._rounds_affordable()

    @classmethod
    def of_rounds(
        cls, promise: PrivacyPromise, params: RoundParams, *, spent: Sequence[Mechanism]
    ) -> PrivacyBudget:
        """The budget of rounds under ``params`` (their count release first, if any)."""
        first = params.release_mechanism(0) if params.count_noise_multiplier else None
        return cls(promise, mechanism=params.mechanism, spent=spent, first=first)

    @property
    def next_mechanism(self) -> Mechanism:
        """The mechanism the next revealed round is counted at."""
        if self.first is not None and self.first not in self._spent:
            return self.first
        return self.mechanism

    @property
    def rounds(self) -> int:
        """How many revealed rounds were paid for."""
        return len(self._spent)

    @property
    def affordable(self) -> int | None:
        """How many more rounds the budget pays for (``None``: no budget declared)."""
        return self._affordable

    def epsilon(self) -> float:
        """ε the revealed rounds have spent, at the declared δ."""
        return epsilon_spent(self._spent, delta=self.promise.delta)

    def spent(self) -> bool:
        """Whether the declared budget cannot pay for one more round (never without one)."""
        return self._affordable == 0

    def record_revealed(self) -> None:
        """Count one more round of this launcher's mechanism whose result a member revealed
        (published or not: the launcher saw the model)."""
        self._spent.append(self.next_mechanism)
        self._affordable = self._rounds_affordable()
        if self.spent():
            log.warning(
                "privacy budget spent: %d rounds revealed, epsilon %.3f at delta %g; "
                "one more round would exceed the budget %g, no more rounds will open",
                self.rounds,
                self.epsilon(),
                self.promise.delta,
                self.promise.epsilon_budget,
            )

    def announce(self, scheduled_rounds: int) -> None:
        """Log the budget at start, warning when ``scheduled_rounds`` (0: no limit) ask for
        more published rounds than it affords."""
        p, affordable = self.promise, self._affordable
        if affordable is None:
            log.info(
                "no privacy budget declared (no differential-privacy promise); epsilon spent "
                "so far %.3f at delta %g",
                self.epsilon(),
                p.delta,
            )
            return
        log.log(
            logging.WARNING if affordable == 0 else logging.INFO,
            "privacy budget epsilon %g at delta %g (%s level): %d rounds revealed spent %.3f; "
            "noise multiplier %g affords %d more",
            p.epsilon_budget,
            p.delta,
            p.unit,
            self.rounds,
            self.epsilon(),
            self.mechanism[0],
            affordable,
        )
        wanted = max(scheduled_rounds - self.rounds, 0)
        if scheduled_rounds and affordable < wanted:
            log.warning(
                "the schedule asks for %d more rounds but noise multiplier %g affords only %d "
                "within epsilon %g at delta %g: the launcher will stop after %d",
                wanted,
                self.mechanism[0],
                affordable,
                p.epsilon_budget,
                p.delta,
                affordable,
            )

    def _rounds_affordable(self) -> int | None:
        budget = self.promise.epsilon_budget
        if budget is None:
            return None
        delta, spent = self.promise.delta, self._spent
        nxt = self.next_mechanism
        if nxt == self.mechanism:
            return rounds_within_budget(spent, nxt, delta=delta, budget=budget)
        if not rounds_within_budget(spent, nxt, delta=delta, budget=budget, limit=1):
            return 0
        after = [*spent, nxt]
        return 1 + rounds_within_budget(after, self.mechanism, delta=delta, budget=budget)
