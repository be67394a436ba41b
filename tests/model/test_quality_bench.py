"""``mpcrec bench quality`` end to end on a small interactions file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpcrec.bench.quality import curved_methods
from mpcrec.cli.app import main
from tests.model.quality_cli import run_quality_bench


@pytest.mark.timeout(300)  # SASRec and two federations, on a loaded shared machine
def test_quality_bench_writes_every_method(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--instances", "3", "--rounds", "3", "--dp-rounds", "2", "--seeds", "0,1"]
    args += ["--curve", "4", "--markdown", str(tmp_path / "q.md")]
    report = run_quality_bench(tmp_path, n_users=60, n_items=40, per_user=6, args=args)
    assert (report["users"], report["items"], report["seeds"]) == (60, 40, [0, 1])
    assert report["protocol"] == "whole-past"
    assert set(report["methods"]) == {
        "random",
        "popularity",
        "peertube_today",
        "ease",
        "mf_central",
        "fedavg_plain",
        "fedavg_dp",
        "transitions",
        "sasrec",
        "seq_central",
        "seq_fed",
        "als_plain",
        "dpals_noiseless",
        "dpals",
    }
    for row in report["methods"].values():
        for key in ("hr@10", "ndcg@10", "recall@20", "ndcg@20", "train_s"):
            assert row[key] >= 0.0 and f"{key}_std" in row
    assert report["methods"]["fedavg_dp"]["epsilon"] == pytest.approx(8.0, rel=0.01)
    assert report["methods"]["seq_fed"]["anonymous_ndcg@10"] >= 0.0
    assert report["methods"]["seq_fed"]["payload_values"] == 2 * 40 * 32
    assert report["privacy_utility"][0]["epsilon"] == pytest.approx(4.0, rel=0.01)
    curve = {p["method"]: p for p in report["privacy_utility"]}
    assert set(curve) == {"fedavg_dp", "dpals"}
    assert curve["dpals"]["epsilon"] == pytest.approx(4.0, rel=0.01)
    assert report["methods"]["dpals"]["epsilon"] == pytest.approx(8.0, rel=0.01)
    assert report["methods"]["dpals"]["payload_values"] > 0
    assert "ndcg@10" in capsys.readouterr().out
    assert "| fedavg_dp |" in (tmp_path / "q.md").read_text()


def test_unknown_method_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "quality", "--methods", "popularity,magic", "--out", str(tmp_path / "q")])
    assert code == 2
    assert "unknown method(s) magic" in capsys.readouterr().err


def test_train_only_protocol_is_still_reachable(tmp_path: Path) -> None:
    args = ["--instances", "2", "--seeds", "0", "--protocol", "train-only"]
    args += ["--methods", "popularity,transitions"]
    report = run_quality_bench(tmp_path, n_users=30, n_items=20, per_user=5, args=args)
    assert report["protocol"] == "train-only" and set(report["methods"]) == {
        "popularity",
        "transitions",
    }


def test_curve_runs_fedavg_dp_unless_a_dpals_only_run_leaves_it_out() -> None:
    assert curved_methods(["popularity"]) == ["fedavg_dp"]
    assert curved_methods(["fedavg_dp", "dpals"]) == ["fedavg_dp", "dpals"]
    assert curved_methods(["popularity", "dpals"]) == ["dpals"]
