"""Two size tiers of personalisation and the heterogeneity check (:mod:`personal_tiers`)."""

from __future__ import annotations

import math

import numpy as np

from mpcrec.model.personal_rule import LOSER_FLOOR, NEVER, Rule, choose
from mpcrec.model.personal_tiers import (
    SMALL_RULES,
    Policy,
    expected_losers,
    heterogeneity,
    pick_policy,
)

ALWAYS = -math.inf


def _instances(effects: list[float], users: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Instances whose per-user gain of ``mix 0.5`` over shared is ``effect`` + unit noise."""
    rng = np.random.default_rng(seed)
    return [
        {"shared": np.zeros(users), "mix 0.5": effect + rng.normal(0.0, 1.0, users)}
        for effect in effects
    ]


def test_a_common_effect_looks_like_noise_and_a_mixed_one_does_not() -> None:
    common = heterogeneity(_instances([0.1] * 40, 50, 0), "mix 0.5")
    assert common["instances"] == 40 and common["df"] == 39
    assert 0.7 < common["sd_z"] < 1.3 and common["q"] < 60  # chi2(39) 99.5 %: 65
    assert 0.0 < common["mean_z"] < 1.5  # 0.1 per user x sqrt(50) = 0.71 expected
    mixed = heterogeneity(_instances([0.6, -0.6] * 20, 50, 0), "mix 0.5")
    assert mixed["sd_z"] > 3.0 and mixed["q"] > 300  # +-4.2 SE apart: far beyond noise


def test_heterogeneity_leaves_out_small_instances_and_all_zero_differences() -> None:
    gains = _instances([0.1] * 3, 50, 1) + _instances([5.0], LOSER_FLOOR - 1, 1)
    gains.append({"shared": np.zeros(30), "mix 0.5": np.zeros(30)})  # no difference: no z
    assert heterogeneity(gains, "mix 0.5")["instances"] == 3
    assert heterogeneity(gains, "offset 30")["instances"] == 0
    assert math.isnan(heterogeneity(gains[:1], "mix 0.5")["sd_z"])


def test_expected_losers_are_the_normal_tail_below_minus_one() -> None:
    assert abs(expected_losers(100, 0.0) - 15.865) < 1e-3
    assert abs(expected_losers(39, 0.4) - 39 * 0.080757) < 1e-3
    assert expected_losers(10, 3.0) < 0.001 < expected_losers(10, 1.0)


def test_an_always_rule_takes_its_candidate_unseen_within_its_sizes_only() -> None:
    worse = {"shared": np.ones(10), "mix 0.25": np.zeros(10)}
    rule = Rule(2, ALWAYS, "mix 0.25", max_users=LOSER_FLOOR - 1)
    assert choose(worse, rule) == "mix 0.25"
    assert choose(worse, Rule(2, 0.0, "mix 0.25", max_users=19)) == "shared"  # a bar: kept
    large = {"shared": np.ones(LOSER_FLOOR), "mix 0.25": np.zeros(LOSER_FLOOR)}
    assert choose(large, rule) == "shared"  # above its ceiling
    assert rule.label() == f"2-{LOSER_FLOOR - 1} users, always: mix 0.25"
    assert Rule(20, 1.5, "mix 0.5").label() == ">= 20 users, 1.5 SE: mix 0.5"


def test_a_policy_sends_each_instance_to_its_own_tier() -> None:
    policy = Policy(Rule(2, ALWAYS, "mix 0.25", max_users=19), Rule(NEVER, 2.0))
    small = {"shared": np.ones(8), "mix 0.25": np.zeros(8), "mix 0.5": np.full(8, 2.0)}
    large = {k: np.resize(v, 40) for k, v in small.items()}
    assert policy.choose(small) == "mix 0.25" and policy.choose(large) == "shared"
    clear = Policy(SMALL_RULES[0], Rule(20, 0.0, "mix 0.5"))
    assert clear.choose(large) == "mix 0.5" and clear.choose(small) == "shared"
    assert clear.label() == "< 20: never; >= 20: >= 20 users, 0 SE: mix 0.5"


def test_pick_policy_takes_each_tier_on_its_own_replay() -> None:
    """Small instances that hold up on the later item move; large ones that reverse stay."""
    rng = np.random.default_rng(4)

    def tiered(small: float, large: float) -> list[dict[str, np.ndarray]]:
        out = []
        for users, gain in ((8, small), (8, small), (120, large), (120, large)):
            row = {"shared": np.zeros(users)}
            for name in ("mix 0.25", "mix 0.5", "mix 0.75", "offset 30"):
                row[name] = gain + rng.normal(0.0, 0.05, users)
            out.append(row)
        return out

    policy = pick_policy(tiered(0.3, 0.3), tiered(0.3, -0.3), small_tier=True)
    assert policy.small.min_users == 2 and policy.small.max_users == LOSER_FLOOR - 1
    assert policy.large.min_users == NEVER
    kept = pick_policy(tiered(0.3, 0.3), tiered(-0.3, 0.3), small_tier=True)
    assert kept.small == SMALL_RULES[0] and kept.large.min_users < NEVER
    off = pick_policy(tiered(0.3, 0.3), tiered(0.3, -0.3))  # the default: no small tier
    assert off.small == SMALL_RULES[0] and off.large == policy.large
