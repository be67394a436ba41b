"""``mpcrec bench quality --methods seq_dp``: the order-aware model under user-level DP."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mpcrec.bench import quality_seq
from tests.model.quality_cli import run_quality_bench


@pytest.mark.timeout(120)
def test_seq_dp_reports_its_epsilon_on_the_curve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quality_seq, "SEQ_DP", replace(quality_seq.SEQ_DP, rounds=3))
    args = ["--instances", "2", "--dp-rounds", "2", "--seeds", "0"]
    args += ["--methods", "popularity,seq_dp", "--curve", "2", "--epsilon", "4"]
    report = run_quality_bench(tmp_path, n_users=40, n_items=30, per_user=5, args=args)
    row = report["methods"]["seq_dp"]
    assert row["epsilon"] == pytest.approx(4.0, rel=0.01) and row["noise_multiplier"] > 0
    assert row["payload_values"] == 2 * report["items"] * 32 and row["anonymous_ndcg@10"] >= 0.0
    curve = {p["method"]: p for p in report["privacy_utility"]}
    assert curve["seq_dp"]["epsilon"] == pytest.approx(2.0, rel=0.01)
    assert report["config"]["seq_dp"]["rounds"] == 3


@pytest.mark.timeout(120)
def test_hard_negative_seq_fed_and_fair_sasrec_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quality_seq, "SEQ_FED_HARD_ROUNDS", 2)
    fair = replace(quality_seq.SASREC_FAIR, dim=8, max_len=6, epochs=2)
    monkeypatch.setattr(quality_seq, "SASREC_FAIR", fair)
    args = ["--instances", "2", "--seeds", "0", "--methods", "seq_fed_hard,sasrec_fair"]
    report = run_quality_bench(tmp_path, n_users=40, n_items=30, per_user=5, args=args)
    hard, sasrec = report["methods"]["seq_fed_hard"], report["methods"]["sasrec_fair"]
    assert hard["payload_values"] == 2 * report["items"] * 32 and hard["anonymous_ndcg@10"] >= 0
    assert 0.0 <= sasrec["ndcg@10"] <= 1.0 and "anonymous_ndcg@10" not in sasrec
    assert report["config"]["seq_fed_hard"]["negatives"] > 1
    assert report["config"]["sasrec_fair"]["blocks"] == 2


@pytest.mark.timeout(120)
def test_federated_sasrec_row_has_both_viewers_the_payload_and_the_largest_delta(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quality_seq, "SASREC_FED", replace(quality_seq.SASREC_FED, dim=8))
    rounds = replace(quality_seq.SASREC_FED_ROUNDS, rounds=2)
    monkeypatch.setattr(quality_seq, "SASREC_FED_ROUNDS", rounds)
    args = ["--instances", "2", "--seeds", "0", "--methods", "sasrec_fed"]
    report = run_quality_bench(tmp_path, n_users=40, n_items=30, per_user=5, args=args)
    row = report["methods"]["sasrec_fed"]
    # item rows (+ padding), 50 positions, two blocks of 8-wide attention and FF, final norm
    per_block = 2 * 16 + (3 * 64 + 24) + (64 + 8) + 2 * (64 + 8)
    assert row["payload_values"] == (report["items"] + 1) * 8 + 50 * 8 + 2 * per_block + 16
    assert 0.0 <= row["ndcg@10"] <= 1.0 and 0.0 <= row["anonymous_ndcg@10"] <= 1.0
    assert row["max_delta_norm"] > 0.0
    assert report["config"]["sasrec_fed"]["rounds"] == 2
    assert report["config"]["sasrec_fed"]["keep_optimiser"] is True


@pytest.mark.timeout(120)
def test_the_mix_row_has_both_parts_of_the_same_run_and_a_whole_share_is_that_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # all of the logged-in weight on SASRec, all of the anonymous one on seqrec: each row
    # must then read as that part's own (swapped weights or parts fail both ways)
    share, alone, anonymous_alone = 1.0, "sasrec_fed_recent", "seq_fed_hard"
    monkeypatch.setattr(quality_seq, "SASREC_FED", replace(quality_seq.SASREC_FED, dim=8))
    sasrec = replace(quality_seq.SEQ_FED_MIX.sasrec, rounds=2)
    mix = replace(quality_seq.SEQ_FED_MIX, seq_rounds=2, sasrec=sasrec)
    mix = replace(mix, sasrec_weight=share, anonymous_sasrec_weight=1.0 - share)
    monkeypatch.setattr(quality_seq, "SEQ_FED_MIX", mix)
    args = ["--instances", "2", "--seeds", "0", "--methods", "seq_fed_mix"]
    report = run_quality_bench(tmp_path, n_users=40, n_items=30, per_user=5, args=args)
    row = report["methods"]["seq_fed_mix"]
    parts = {k: row[k] for k in quality_seq.MIX_KEYS}
    assert all(0.0 <= v <= 1.0 for v in parts.values())
    assert parts["seq_fed_hard_ndcg@10"] != parts["sasrec_fed_recent_ndcg@10"]
    # a standardised score ranks as the part's own: the mix at a whole share is that part
    assert row["ndcg@10"] == pytest.approx(parts[f"{alone}_ndcg@10"])
    assert parts["anonymous_seq_fed_hard_ndcg@10"] != parts["anonymous_sasrec_fed_recent_ndcg@10"]
    assert row["anonymous_ndcg@10"] == pytest.approx(parts[f"anonymous_{anonymous_alone}_ndcg@10"])
    per_block = 2 * 16 + (3 * 64 + 24) + (64 + 8) + 2 * (64 + 8)
    sasrec_values = (report["items"] + 1) * 8 + 50 * 8 + per_block * 2 + 16
    assert row["payload_values"] == 2 * report["items"] * 32 + sasrec_values
    assert report["config"]["seq_fed_mix"]["sasrec_weight"] == share


@pytest.mark.timeout(120)
def test_the_ease_mix_row_has_its_parts_and_a_whole_share_is_ease_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(quality_seq, "SEQ_FED_HARD_ROUNDS", 2)
    monkeypatch.setattr(quality_seq, "SEQ_FED_EASE_WEIGHT", 1.0)
    args = ["--instances", "2", "--seeds", "0", "--methods", "seq_fed_ease"]
    report = run_quality_bench(tmp_path, n_users=40, n_items=30, per_user=5, args=args)
    row = report["methods"]["seq_fed_ease"]
    assert row["ndcg@10"] == pytest.approx(row["ease_ndcg@10"])
    assert row["ease_ndcg@10"] != row["seq_fed_hard_ndcg@10"]
    assert row["anonymous_ndcg@10"] == row["anonymous_seq_fed_hard_ndcg@10"]
    assert row["ease_lambda"] in (50.0, 100.0, 200.0, 500.0, 1000.0)
    assert row["payload_values"] == 2 * report["items"] * 32
    assert report["config"]["seq_fed_ease"]["ease_weight"] == 1.0
