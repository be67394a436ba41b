"""When an instance may leave the shared model: floor, bar, shrinkage, the rule's pick."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.model.personal import user_gains
from mpcrec.model.personal_rule import (
    CAPS,
    MAX_PREDICTED_LOSERS,
    NEVER,
    RULES,
    SHRINKS,
    Rule,
    candidate_for,
    choose,
    confirm,
    confirmations,
    pick_rule,
    predicted_losers,
    shrunk_name,
)
from tests.model.conftest import clustered


def _clear(n: int, gain: float = 0.2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(n)
    shared = rng.random(n) * 0.5
    return {"shared": shared, "offset 10": shared + gain + rng.normal(0, 0.01, n)}


def test_a_small_instance_stays_shared_however_clear_the_gain() -> None:
    gains = _clear(12)
    assert choose(gains, Rule(0, 2.0)) == "offset 10"
    assert choose(gains, Rule(13, 2.0)) == "shared"
    assert choose(gains, Rule(12, 2.0)) == "offset 10"
    assert choose(gains, Rule(NEVER, 0.0)) == "shared"


def test_the_evidence_bar_scales_with_z() -> None:
    shared = np.array([0.0, 0.5, 0.0, 1.0, 0.2, 0.3])
    gain = np.array([0.3, -0.1, 0.2, 0.1, 0.0, 0.1])  # mean 0.1, SE 0.058
    gains = {"shared": shared, "mix 1": shared + gain}
    assert choose(gains, Rule(0, 1.0)) == "mix 1"
    assert choose(gains, Rule(0, 2.0)) == "shared"
    worse = {"shared": shared, "mix 1": shared - 0.1}
    assert choose(worse, Rule(0, 0.0)) == "shared"


def _instance(n: int, gain: float, seed: int, noise: float = 0.3) -> dict[str, np.ndarray]:
    """Per-user gains of ``shared`` and of one mixture whose true mean gain is ``gain``."""
    rng = np.random.default_rng(seed)
    shared = rng.random(n) * 0.5
    return {"shared": shared, "mix 0.5": shared + gain + rng.normal(0, noise, n)}


def test_a_shrunk_rule_compares_its_own_exact_mixture_never_a_snapped_one() -> None:
    """Until 2026-12-02 n/(n+25) at n = 262 (0.91) was snapped to the nearest fixed mixture,
    ``mix 1`` (the instance's own model alone); now it names its own candidate."""
    names = ["shared", "offset 30", "mix 0.5", "mix 0.75", "mix 1", "mix n/(n+50)"]
    names.append("mix n/(n+25) <= 0.5")
    rule = Rule(0, 1.0, shrink=50.0)
    for users in (10, 50, 262, 1000):
        assert candidate_for(rule, names, users) == "mix n/(n+50)"
    capped = Rule(20, 0.5, shrink=25.0, cap=0.5)
    assert candidate_for(capped, names, 262) == "mix n/(n+25) <= 0.5"
    assert candidate_for(Rule(0, 1.0, shrink=25.0), names, 262) == ""  # not mix 1
    assert candidate_for(Rule(0, 1.0, "offset 30"), names, 10) == "offset 30"
    assert rule.label() == ">= 0 users, 1 SE: mix n/(n+50)"
    assert capped.label() == ">= 20 users, 0.5 SE: mix n/(n+25) <= 0.5"
    gains = {"shared": np.zeros(50), "mix n/(n+50)": np.full(50, 0.1), "mix 1": np.full(50, 0.3)}
    gains["mix n/(n+50)"][0] = 0.0  # a non-zero SE
    assert choose(gains, rule) == "mix n/(n+50)"  # not the better "mix 1": one comparison
    assert choose({"shared": np.zeros(50), "mix 1": np.ones(50)}, rule) == "shared"


def test_confirm_scores_the_choice_on_the_later_item_and_counts_its_losers() -> None:
    chosen_on = [_instance(40, 0.3, 1, 0.01), _instance(40, 0.3, 2, 0.01), _instance(10, 0.3, 3)]
    later = [_instance(40, 0.05, 4, 0.01), _instance(40, -0.05, 5, 0.01), _instance(10, -0.3, 6)]
    result = confirm(chosen_on, later, Rule(0, 1.0, "mix 0.5"))
    assert result.moved == 3
    assert result.losers == 1  # the second; the third is below the target's 20 users
    expected = [float((g["mix 0.5"] - g["shared"]).mean()) for g in later]
    assert result.gain == pytest.approx(np.mean(expected))
    stay = confirm(chosen_on, later, Rule(NEVER, 1.0))
    assert (stay.gain, stay.losers, stay.moved) == (0.0, 0, 0)


def test_pick_rule_raises_the_bar_until_no_instance_loses_on_the_later_item() -> None:
    """The low bar gains more on average but lets through a weak gain that reverses later."""
    chosen_on = [_instance(60, 0.15, 10), _instance(60, 0.15, 11)]
    weak = {"shared": np.zeros(60), "mix 0.5": np.tile([0.4, -0.3], 30)}  # 1.1 SE
    chosen_on += [weak, weak]
    later = [_instance(60, 0.15, 13), _instance(60, 0.15, 14)]
    later += [_instance(60, -0.05, 15, 0.01), _instance(60, 0.4, 17)]
    low, high = Rule(20, 0.0, "mix 0.5"), Rule(20, 2.0, "mix 0.5")
    for weak in chosen_on[2:]:
        assert choose(weak, low) == "mix 0.5" and choose(weak, high) == "shared"
    assert choose(chosen_on[0], high) == "mix 0.5"
    grid = (Rule(NEVER, 2.0), high, low)
    scores = confirmations(chosen_on, later, grid)
    assert [c.losers for c in scores] == [0, 0, 1]
    assert scores[2].gain > scores[1].gain > 0.0
    assert scores[1].predicted_losers < MAX_PREDICTED_LOSERS < 1.0 < scores[2].predicted_losers
    assert pick_rule(chosen_on, later, grid) == high
    assert pick_rule(chosen_on, later, grid, max_predicted=100.0) == low


def test_predicted_losers_fit_a_normal_to_the_confirmed_scores_shrunk_to_none() -> None:
    """Per 60 instance-seeds: moved share x P(z < -1) under a normal fitted to the moved
    instances' z-scores, its mean shrunk as if two more had moved with z = 0."""
    phi = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))  # noqa: E731
    assert predicted_losers([], 40) == 0.0
    assert predicted_losers([-3.0], 60) == pytest.approx(phi(-1.0 + 1.0))  # mean -1: half
    assert predicted_losers([-3.0], 30) == pytest.approx(2 * phi(0.0))  # twice the share
    high = [2.0, 2.0, 2.0]  # mean 6 / 5 = 1.2, spread 1 (at least the noise)
    assert predicted_losers(high, 60) == pytest.approx(3 * phi(-2.2))
    unshrunk = 3 * phi(-3.0)  # the normal fitted to the three alone, as until 2026-12-02
    assert predicted_losers(high, 60) > 5 * unshrunk  # few high scores: not "never loses"
    spread = [-1.0, 3.0]  # a wide sample predicts more losers than a tight one
    assert predicted_losers(spread, 60) > predicted_losers([1.0, 1.0], 60)
    assert predicted_losers([20.0, 20.0], 40) < 1e-6  # two clear gains can still pass


def test_pick_rule_keeps_shared_when_the_early_gain_reverses_later() -> None:
    """Every candidate looks better on the earlier item and is worse on the later one."""
    names = ["offset 30", "mix 0.1", "mix 0.25", "mix 0.5", "mix 0.75", "mix 1"]
    names += [shrunk_name(s, c) for s in SHRINKS for c in CAPS]
    chosen_on, later = [], []
    for k, n in enumerate((15, 25, 40, 60, 80, 120)):
        rng = np.random.default_rng(k)
        shared = rng.random(n) * 0.5
        chosen_on.append({"shared": shared, **{c: shared + 0.2 for c in names}})
        later.append(
            {"shared": shared, **{c: shared - 0.1 + rng.normal(0, 0.01, n) for c in names}}
        )
    scores = confirmations(chosen_on, later)
    assert scores[0].rule == RULES[0] and RULES[0].min_users == NEVER
    assert (scores[0].gain, scores[0].losers) == (0.0, 0)
    assert all(c.gain < 0.0 and c.losers > 0 for c in scores[1:])
    assert pick_rule(chosen_on, later) == RULES[0]
    assert pick_rule(chosen_on, chosen_on).min_users < NEVER  # without the later item: moves


def test_the_choice_never_sees_a_test_item() -> None:
    """The rule takes only gains; validation gains need the training-only view."""
    assert list(inspect.signature(choose).parameters) == ["gains", "rule"]
    data = clustered(n_users=30, n_items=40, per_user=6)
    tuning, split = leave_last_out(data), whole_past(data)
    users = np.arange(30)
    cheat = np.zeros((30, 40))
    cheat[users, split.test_item] = 1.0  # puts the test item first
    honest = np.zeros((30, 40))
    honest[users, tuning.valid_item] = 1.0  # puts the validation item first
    flat = np.random.default_rng(5).random((30, 40)) * 0.1
    scores = {"shared": flat, "cheat": flat + cheat, "honest": flat + honest}
    gains = {k: user_gains(tuning, v, users, "valid") for k, v in scores.items()}
    assert choose(gains, Rule(0, 1.0)) == "honest"
    with pytest.raises(ValueError, match="whole-past"):
        user_gains(split, flat, users, "valid")


def test_a_one_candidate_rule_compares_only_its_candidate() -> None:
    gains = _clear(40)
    gains["mix 0.5"] = gains["shared"] + 0.05 + np.random.default_rng(5).normal(0, 0.01, 40)
    assert choose(gains, Rule(0, 2.0)) == "offset 10"  # the best of all
    assert choose(gains, Rule(0, 2.0, "mix 0.5")) == "mix 0.5"  # only its own
    assert choose(gains, Rule(0, 2.0, "mix 0.75")) == "shared"  # not among the candidates
    gains["mix 0.5"] = gains["shared"] - 0.05
    assert choose(gains, Rule(0, 0.0, "mix 0.5")) == "shared"
    assert Rule(20, 1.0, "mix 0.5").label() == ">= 20 users, 1 SE: mix 0.5"
