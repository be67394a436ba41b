"""``bench personalisation``'s per-seed rows, summary and tables on the clustered world."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mpcrec.bench.personalisation import by_size, markdown, rules_by_seed, seed_rows, summary
from mpcrec.data.partition import Partition
from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.model.personal import MIXES, STRENGTHS
from mpcrec.model.personal_rule import NEVER
from mpcrec.model.tuned_dpals import ALS_DP
from tests.model.conftest import clustered

NAMES = {"shared"} | {f"offset {s:g}" for s in STRENGTHS[1:]} | {f"mix {a:g}" for a in MIXES}


def test_rows_cover_every_instance_and_the_summary_adds_up() -> None:
    data = clustered(n_users=80, n_items=40, per_user=8)
    tuning, split = leave_last_out(data), whole_past(data)
    sizes = np.repeat([0, 1, 2], [50, 20, 10])
    partition = Partition(names=("a", "b", "c"), user_instance=sizes, how="label")
    config = replace(ALS_DP, init="random", smoothing=0.0)  # no metadata in this world
    rows = seed_rows(tuning, split, partition, config, 8.0, seed=0)
    assert [r["users"] for r in rows] == [50, 20, 10]
    for r in rows:
        assert 0.0 <= r["ndcg_shared"] <= 1.0 and 0.0 <= r["ndcg_personal"] <= 1.0
        assert abs(r["difference"] - (r["ndcg_personal"] - r["ndcg_shared"])) < 1e-12
        if r["choice"] == "shared":
            assert r["difference"] == 0.0
        assert 0.0 <= r["ndcg_previous"] <= 1.0 and r["choice_previous"] in NAMES
    total = summary(rows)
    means = [np.mean([r[k] for r in rows]) for k in ("ndcg_shared", "ndcg_personal")]
    assert [total["mean_instance_ndcg_shared"], total["mean_instance_ndcg_personal"]] == means
    assert sum(b["instances"] for b in by_size(rows)) == 3
    report = {"summary": total, "by_size": by_size(rows), "per_instance": rows}
    assert markdown(report).count("\n| 0 |") == 3


def test_each_seed_s_rule_comes_from_the_other_seeds() -> None:
    rng = np.random.default_rng(0)
    good = [{"shared": np.zeros(60), "mix 1": 0.3 + rng.normal(0, 0.05, 60)} for _ in range(3)]
    bad = [{"shared": np.full(60, 0.5), "mix 1": rng.normal(0, 0.05, 60)} for _ in range(3)]
    rules = rules_by_seed({0: good, 1: bad})
    assert rules[0].min_users == NEVER  # seed 1 says personalising hurts
    assert rules[1].min_users < 60  # seed 0 says it helps
    assert rules_by_seed({0: good})[0].min_users < 60  # one seed: its own validation users
