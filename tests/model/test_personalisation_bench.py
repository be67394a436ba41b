"""``bench personalisation``'s per-seed rows, summary and tables on the clustered world."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mpcrec.bench.personalisation import by_size, markdown, seed_rows, summary
from mpcrec.data.partition import Partition
from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.model.tuned_dpals import ALS_DP
from tests.model.conftest import clustered


def test_rows_cover_every_instance_and_the_summary_adds_up() -> None:
    data = clustered(n_users=80, n_items=40, per_user=8)
    tuning, split = leave_last_out(data), whole_past(data)
    sizes = np.repeat([0, 1, 2], [50, 20, 10])
    partition = Partition(names=("a", "b", "c"), user_instance=sizes, how="label")
    config = replace(ALS_DP, init="random")  # the clustered world has no metadata
    rows = seed_rows(tuning, split, partition, config, 8.0, seed=0)
    assert [r["users"] for r in rows] == [50, 20, 10]
    for r in rows:
        assert 0.0 <= r["ndcg_shared"] <= 1.0 and 0.0 <= r["ndcg_personal"] <= 1.0
        assert abs(r["difference"] - (r["ndcg_personal"] - r["ndcg_shared"])) < 1e-12
        if r["choice"] == "shared":
            assert r["difference"] == 0.0
    total = summary(rows)
    means = [np.mean([r[k] for r in rows]) for k in ("ndcg_shared", "ndcg_personal")]
    assert [total["mean_instance_ndcg_shared"], total["mean_instance_ndcg_personal"]] == means
    assert sum(b["instances"] for b in by_size(rows)) == 3
    report = {"summary": total, "by_size": by_size(rows), "per_instance": rows}
    assert markdown(report).count("\n| 0 |") == 3
