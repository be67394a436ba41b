"""The privacy budget's arithmetic: ε spent, the rounds a budget affords, the first over it."""

from __future__ import annotations

import math

import pytest

from mpcrec.privacy.accountant import gaussian_epsilon
from mpcrec.privacy.budget import epsilon_spent, first_over_budget, rounds_within_budget

DELTA = 1e-5


def test_epsilon_spent_equals_the_accountant_and_is_infinite_without_noise() -> None:
    rounds = [(1.5, 0.04)] * 30
    assert epsilon_spent(rounds, delta=DELTA) == pytest.approx(
        gaussian_epsilon(noise_multiplier=1.5, steps=30, delta=DELTA, sample_rate=0.04),
        rel=1e-12,
    )
    assert epsilon_spent([*rounds, (0.0, 1.0)], delta=DELTA) == math.inf
    assert epsilon_spent([], delta=DELTA) == 0.0


@pytest.mark.parametrize(
    ("spent", "z", "budget"),
    [([], 4.0, 8.0), ([], 20.0, 3.0), ([(2.0, 1.0)] * 3, 6.0, 9.5), ([(1.0, 1.0)], 3.0, 6.0)],
)
def test_rounds_within_budget_is_the_last_count_that_fits(
    spent: list[tuple[float, float]], z: float, budget: float
) -> None:
    n = rounds_within_budget(spent, (z, 1.0), delta=DELTA, budget=budget)

    def eps(more: int) -> float:
        return epsilon_spent([*spent, *[(z, 1.0)] * more], delta=DELTA)

    assert n >= 1
    assert eps(n) <= budget < eps(n + 1)


def test_rounds_within_budget_zero_when_nothing_fits_and_capped_by_the_limit() -> None:
    assert rounds_within_budget([], (0.0, 1.0), delta=DELTA, budget=1e9) == 0
    assert rounds_within_budget([(1.0, 1.0)] * 3, (50.0, 1.0), delta=DELTA, budget=8.0) == 0
    assert rounds_within_budget([], (1e4, 1.0), delta=DELTA, budget=1e3, limit=50) == 50


def test_first_over_budget_equals_a_linear_scan() -> None:
    rounds = [(3.0, 1.0)] * 10 + [(1.0, 1.0)] * 10
    for budget in (2.0, 5.0, 9.0, 50.0):
        scan = next(
            (n for n in range(1, 21) if epsilon_spent(rounds[:n], delta=DELTA) > budget), None
        )
        assert first_over_budget(rounds, delta=DELTA, budget=budget) == scan
    assert first_over_budget(rounds, delta=DELTA, budget=math.inf) is None
