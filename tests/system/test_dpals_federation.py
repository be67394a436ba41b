"""``mpcrec demo --model dpals`` end to end, small: real processes (beacon, launcher, four
nodes), a secure CrypTen committee, the two user-level DP-ALS rounds of ``ALS_DP`` published
(the count release that fixes the head, then the statistics over it), and the audit
recomputing ε from the exported log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mpcrec.audit.entries import Kind
from mpcrec.audit.verify import parse_lines, verify_file
from mpcrec.federation.dpals_noise import dpals_multipliers
from mpcrec.model.tuned_dpals import ALS_DP
from mpcrec.node.recommender import ModelSnapshot
from mpcrec.privacy.budget import epsilon_spent


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_secure_dpals_round_is_published_within_budget_and_audited(tmp_path: Path) -> None:
    # Prepare
    state = tmp_path / "state"
    cmd = [sys.executable, "-m", "mpcrec.cli.app", "demo", "--model", "dpals"]
    cmd += ["--instances", "4", "--cooldown", "1", "--no-baselines", "--format", "json"]
    cmd += ["--state-dir", str(state), "--timeout", "240"]

    # Execute
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=280)

    # Assert
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((state / "demo.json").read_text())
    assert report["model"] == "dpals" and report["aggregation"] == "secure"
    assert report["rounds_published"] == 2 and report["model_version"] == 2
    # the contribution is the statistics vector, not the model: 8 bytes a value per share
    assert report["upload_bytes_per_instance"] > 8 * report["contribution_values"]
    z, z_count = report["noise_multiplier"], report["count_noise_multiplier"]
    assert 0 < z < z_count < 5 and report["privacy_unit"] == "user" and report["user_rate"] == 1.0
    assert report["audit_ok"], report["audit_findings"]
    audited = verify_file(state / "audit.jsonl", workers=1)  # epsilon from the log alone
    epsilon = float(audited.stats["epsilon"])
    assert epsilon == pytest.approx(epsilon_spent([(z_count, 1.0), (z, 1.0)], delta=1e-5), rel=1e-3)
    assert 7.0 < epsilon <= report["epsilon_budget"] == 8.0
    # both derived by the exact split of one budget (counts 2.684, statistics 0.6158), and
    # the signed config names that accountant, which the audit recomputed with
    exact, exact_count = dpals_multipliers(8.0, 1e-5)
    assert z == pytest.approx(exact, abs=1e-4) and z_count == pytest.approx(exact_count, abs=1e-4)
    assert epsilon > 7.999
    entries, _, _ = parse_lines((state / "audit.jsonl").read_bytes().splitlines())
    assert {e.payload.get("accountant") for e in entries if e.kind == Kind.CONFIG} == {"gdp"}
    assert 0.0 < report["ndcg@10"] <= report["hr@10"] <= 1.0
    snapshot = ModelSnapshot.load(state / "nodes" / "ml-00" / "snapshot.npz")
    assert snapshot.version == "v2"  # served from the published DP-ALS factors
    served = np.linalg.norm(snapshot.item_embeddings, axis=1) > 0
    assert served.sum() == ALS_DP.head_items  # the head the count release chose
    assert len(snapshot.recommend(min(snapshot.local_users), 10).videos) == 10
