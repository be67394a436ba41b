"""``mpcrec bench quality --protocol cold-start`` end to end, one round (MovieLens 100k cache)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mpcrec.bench.quality_coldstart import CANDIDATES, ROWS, _plain
from mpcrec.cli.app import main
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.content_fedavg import ContentConfig, train_content_fedavg
from mpcrec.model.fedavg import FedConfig, train_fedavg
from mpcrec.model.local import LocalConfig
from mpcrec.model.mf import MFConfig


@pytest.mark.timeout(180)
def test_cold_start_protocol_reports_every_row_on_the_new_items_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cold.json"
    argv = ["bench", "quality", "--protocol", "cold-start", "--rounds", "1", "--seeds", "0"]
    assert main([*argv, "--out", str(out), "--markdown", str(tmp_path / "cold.md")]) == 0
    report = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    assert (report["protocol"], report["new_items"]) == ("cold-start", 337)  # ceil(0.2 * 1682)
    assert report["removed_events"] > 0
    assert set(report["methods"]) == {"fedavg_ridge", "fedavg_ridge_calibrated", *ROWS}
    for name, row in report["methods"].items():
        assert set(row) == set(CANDIDATES), name
        users = {row[c]["users"] for c in CANDIDATES}
        assert len(users) == 1 and 0 < users.pop() < 943
    # among the new items only, a new item is always ranked; the model without metadata
    # has no row for them, so it is a seeded random order there
    assert report["methods"]["popularity"]["new"]["ndcg@10"] < 0.05
    assert "fedavg_content | new" in (tmp_path / "cold.md").read_text()


def test_cold_start_protocol_needs_movielens(tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text("user,item,timestamp\nu,i,1\n")
    argv = ["bench", "quality", "--protocol", "cold-start", "--interactions", str(source)]
    assert main([*argv, "--out", str(tmp_path / "x.json")]) != 0


def test_fedavg_plain_read_off_a_ridge_step_model_is_train_fedavg(world: Split) -> None:
    """The bench trains once for both rows: the ridge model's ``E + F W`` is FedAvg's model."""
    partition = Partition(names=("a", "b"), user_instance=np.arange(world.n_users) % 2, how="x")
    config = FedConfig(rounds=3, local=LocalConfig(mf=MFConfig(dim=4, batch_size=64), epochs=1))
    features = np.random.default_rng(7).random((world.n_items, 6))
    content = ContentConfig(map_lr=1.0, step="ridge", lam=1.0)
    model = train_content_fedavg(world, partition, config, features, content, seed=5)
    plain = train_fedavg(world, partition, config, seed=5)
    read_off = _plain(world, partition, config, 5, model, features)
    np.testing.assert_allclose(read_off.item_emb, plain.item_emb, atol=1e-12)
    np.testing.assert_array_equal(read_off.user_emb, plain.user_emb)


def test_calibrated_ridge_rows_scale_only_the_new_items(world: Split) -> None:
    """One scale on the new rows: the old rows untouched, the new ones a multiple > 1 of the
    plain ridge rows (ridge shrinks) with the known rows' RMS norm, in the same order."""
    from mpcrec.bench.quality_coldstart import _ridge_rows
    from mpcrec.model.mf import Factors

    rng = np.random.default_rng(3)
    features = rng.random((world.n_items, 6))
    known, new = np.arange(world.n_items - 5), np.arange(world.n_items - 5, world.n_items)
    plain = Factors(rng.normal(size=(world.n_users, 4)), rng.normal(size=(known.size, 4)))
    rows = np.zeros((world.n_items, 4))
    rows[known] = plain.item_emb
    ridge, calibrated = _ridge_rows(plain, rows, features, known, new, lam=1.0)
    np.testing.assert_array_equal(calibrated[known], rows[known])
    ratio = calibrated[new] / ridge[new]
    assert ratio.min() > 1.0
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-12)
    rms = [np.sqrt(np.mean(np.sum(r**2, axis=1))) for r in (calibrated[new], plain.item_emb)]
    assert abs(rms[0] - rms[1]) < 1e-9 * rms[1]
