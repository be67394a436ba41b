"""``bench personalisation``'s per-seed rows, summary and tables on the clustered world."""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import pytest

from mpcrec.bench.personalisation import (
    PREVIOUS,
    _seeds,
    by_size,
    earlier_view,
    heterogeneity_table,
    policies,
    register,
    seed_rows,
    summary,
)
from mpcrec.bench.personalisation_report import markdown, pooled_difference
from mpcrec.data.partition import Partition
from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.errors import ConfigError
from mpcrec.model.personal import MIXES, STRENGTHS
from mpcrec.model.personal_rule import MAX_PREDICTED_LOSERS, NEVER, RULES, Rule, calibration
from mpcrec.model.personal_tiers import Policy
from mpcrec.model.tuned_dpals import ALS_DP_ONE_RELEASE
from tests.model.conftest import clustered

NAMES = {"shared"} | {f"offset {s:g}" for s in STRENGTHS[1:]} | {f"mix {a:g}" for a in MIXES}


def test_rows_cover_every_instance_and_the_summary_adds_up() -> None:
    data = clustered(n_users=80, n_items=40, per_user=8)
    tuning, split = leave_last_out(data), whole_past(data)
    sizes = np.repeat([0, 1, 2], [50, 20, 10])
    partition = Partition(names=("a", "b", "c"), user_instance=sizes, how="label")
    config = replace(ALS_DP_ONE_RELEASE, init="random", smoothing=0.0)  # no metadata in this world
    policy = Policy(Rule(2, -np.inf, "mix 0.25", max_users=19), Rule(20, 0.0, "mix 0.5"))
    rows = seed_rows(tuning, split, partition, config, 8.0, 0, policy)
    assert [r["users"] for r in rows] == [50, 20, 10]
    assert rows[2]["choice"] == "mix 0.25"  # the small tier takes its candidate unseen
    for r in rows:
        assert 0.0 <= r["ndcg_shared"] <= 1.0 and 0.0 <= r["ndcg_personal"] <= 1.0
        assert abs(r["difference"] - (r["ndcg_personal"] - r["ndcg_shared"])) < 1e-12
        if r["choice"] == "shared":
            assert r["difference"] == 0.0
        assert 0.0 <= r["ndcg_previous"] <= 1.0 and r["choice_previous"] in NAMES
        assert r["choice"] in (("shared", "mix 0.5") if r["users"] >= 20 else ("mix 0.25",))
        assert r["choice_previous"] == ("shared" if r["users"] < 20 else r["choice_previous"])
        gap = r["ndcg_previous"] - r["ndcg_shared"]
        assert abs(r["difference_previous"] - gap) < 1e-12
    total = summary(rows)
    means = [np.mean([r[k] for r in rows]) for k in ("ndcg_shared", "ndcg_personal")]
    assert [total["mean_instance_ndcg_shared"], total["mean_instance_ndcg_personal"]] == means
    assert sum(b["instances"] for b in by_size(rows)) == 3
    report = {"summary": total, "by_size": by_size(rows), "per_instance": rows}
    assert markdown(report, PREVIOUS.label()).count("\n| 0 |") == 3
    worse = [(0, r["instance"]) for r in rows if r["difference"] < -r["difference_se"]]
    assert total["worse_beyond_se_20_plus"] == [w for w in worse if rows[w[1]]["users"] >= 20]
    assert sum(b["worse"] for b in by_size(rows)) == len(total["worse_beyond_se_20_plus"])


def test_the_earlier_view_is_the_protocol_one_item_back() -> None:
    """Its validation item is the third-last; its training set the validation view's minus it."""
    data = clustered(n_users=30, n_items=40, per_user=6)
    tuning, early = leave_last_out(data), earlier_view(data)
    assert len(early.train) == len(tuning.train) - data.n_users
    np.testing.assert_array_equal(early.test_item, tuning.valid_item)
    last_three = early.valid_item
    assert not np.array_equal(last_three, tuning.valid_item)
    pairs = set(zip(tuning.train.users.tolist(), tuning.train.items.tolist(), strict=True))
    assert all((u, i) in pairs for u, i in enumerate(last_three.tolist()))


def test_each_seed_s_rule_comes_from_the_other_seeds() -> None:
    rng = np.random.default_rng(0)

    def world(gain: float) -> list[dict[str, np.ndarray]]:
        return [{"shared": np.zeros(60), "mix 0.5": gain + rng.normal(0, 0.05, 60)} for _ in "ab"]

    good, bad = world(0.3), world(-0.3)
    rules = policies({0: good, 1: good}, {0: good, 1: bad}, [0, 1])
    assert rules[0].large.min_users == NEVER  # seed 1: what looked good reverses later
    assert rules[1].large.min_users < 60  # seed 0: it holds up
    assert policies({0: good}, {0: good}, [0])[0].large.min_users < 60  # one seed: its own
    strict = policies({0: good, 1: good}, {0: good, 1: good}, [0, 1], max_predicted=-1.0)
    assert all(r.large.min_users == NEVER for r in strict.values())  # none within the bound


def test_a_pilot_s_policy_is_picked_once_and_applied_to_every_seed() -> None:
    """Seeds 2 and 3 are judged by what seeds 0 and 1 replayed, whatever their own say."""
    rng = np.random.default_rng(2)

    def world(gain: float) -> list[dict[str, np.ndarray]]:
        return [{"shared": np.zeros(60), "mix 0.5": gain + rng.normal(0, 0.05, 60)} for _ in "ab"]

    good, bad = world(0.3), world(-0.3)
    before = {0: good, 1: good, 2: good, 3: good}
    held = policies(before, {0: good, 1: good, 2: bad, 3: bad}, [2, 3], pilot=[0, 1])
    assert held[2] == held[3] and held[2].large.min_users < 60
    reversed_ = policies(before, {0: bad, 1: bad, 2: good, 3: good}, [2, 3], pilot=[0, 1])
    assert all(p.large.min_users == NEVER for p in reversed_.values())


def test_the_heterogeneity_table_pools_every_seed_s_large_instances() -> None:
    rng = np.random.default_rng(3)
    big = [{"shared": np.zeros(40), "mix 0.5": rng.normal(0.1, 1.0, 40)} for _ in range(6)]
    small = [{"shared": np.zeros(5), "mix 0.5": np.ones(5) * np.arange(5)}]
    table = heterogeneity_table({0: big[:3] + small, 1: big[3:]})
    assert table["mix 0.5"]["instances"] == 6  # the small one is left out


def test_the_predictor_is_checked_on_the_seed_it_did_not_see() -> None:
    """Seed 0's own replay reverses (its losers counted where seed 1 predicted none); seed
    1's holds (none counted where seed 0's replay predicted many)."""
    rng = np.random.default_rng(1)

    def world(gain: float) -> list[dict[str, np.ndarray]]:
        return [{"shared": np.zeros(60), "mix 0.5": gain + rng.normal(0, 0.05, 60)} for _ in "ab"]

    good = world(0.3)
    table = calibration({0: good, 1: good}, {0: world(-0.3), 1: world(0.3)})
    assert sum(b["rules"] for b in table) == 2 * len(RULES)
    low = [b for b in table if b["per_run_from"] < MAX_PREDICTED_LOSERS]
    high = [b for b in table if b["per_run_from"] >= 1.0]
    moving = [r for r in RULES if r.candidate == "mix 0.5" and r.min_users <= 60]
    assert sum(b["counted"] for b in low) == 2 * len(moving)  # both instances lose
    assert sum(b["predicted"] for b in low) < 0.01
    assert sum(b["counted"] for b in high) == 0 < len(moving) < sum(b["predicted"] for b in high)
    assert calibration({0: good}, {0: good}) == []  # one seed: nothing out of sample


def test_rule_seeds_are_parsed_and_a_bad_one_names_its_flag() -> None:
    assert _seeds("", "--rule-seeds") == [] and _seeds("0, 1,2", "--rule-seeds") == [0, 1, 2]
    with pytest.raises(ConfigError, match="--rule-seeds"):
        _seeds("0,x", "--rule-seeds")


def test_the_partition_flag_defaults_to_the_issue_s_zip_code_regions() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert parser.parse_args(["personalisation", "--out", "x"]).partition == "zip"
    taste = parser.parse_args(["personalisation", "--out", "x", "--partition", "taste"])
    assert taste.partition == "taste"
    with pytest.raises(SystemExit):
        parser.parse_args(["personalisation", "--out", "x", "--partition", "planet"])


def test_the_pooled_difference_and_its_se_from_the_instances() -> None:
    rows = [{"difference": d, "difference_se": e} for d, e in ((0.03, 0.03), (-0.01, 0.04), (0, 0))]
    mean, se = pooled_difference(rows)
    assert mean == pytest.approx(0.02 / 3) and se == pytest.approx(0.05 / 3)
