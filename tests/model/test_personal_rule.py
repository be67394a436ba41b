"""When an instance may leave the shared model: size floor, evidence bar, the rule's pick."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.model.personal import user_gains
from mpcrec.model.personal_rule import (
    NEVER,
    RULES,
    Rule,
    choose,
    held_out_gain,
    pick_rule,
    rule_scores,
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


def test_held_out_gain_is_zero_below_the_floor_and_real_above() -> None:
    gains = _clear(40)
    assert held_out_gain(gains, Rule(41, 1.0)) == 0.0
    assert held_out_gain(gains, Rule(40, 1.0)) == pytest.approx(0.2, abs=0.01)


def test_pick_rule_keeps_shared_when_no_candidate_helps_held_out_users() -> None:
    """Noise that looks like a gain on the users it was picked on loses on the others."""
    rng = np.random.default_rng(3)
    instances = []
    for n in (15, 25, 40, 60):
        shared = (rng.random(n) < 0.3) * 0.5
        noise = {f"mix {a}": (rng.random(n) < 0.3) * 0.5 for a in range(8)}
        instances.append({"shared": shared, **noise})
    scores = rule_scores(instances)
    assert scores[0] == 0.0  # "never"
    assert max(scores[1:]) <= 0.0
    assert pick_rule(instances).min_users == NEVER


def test_pick_rule_takes_the_floor_that_separates_helpful_from_harmful() -> None:
    """Big instances gain, small ones are hurt: the picked floor is between them."""
    big = [_clear(n, 0.2) for n in (120, 150)]
    rng = np.random.default_rng(4)
    small = []
    for n in (18, 22, 26):  # a candidate that looks better on some halves, worse overall
        shared = rng.random(n) * 0.5
        small.append({"shared": shared, "mix 1": shared - 0.2 + rng.normal(0, 0.5, n)})
    rule = pick_rule(big + small)
    assert 26 < rule.min_users <= 120
    assert RULES[0].min_users == NEVER


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
    assert held_out_gain(gains, Rule(0, 0.0, "mix 0.5")) == 0.0
    assert Rule(20, 1.0, "mix 0.5").label() == ">= 20 users, 1 SE: mix 0.5"
