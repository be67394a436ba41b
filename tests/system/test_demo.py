"""``mpcrec demo`` end to end, small: real processes, MovieLens-100k, its JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mpcrec.node.recommender import ModelSnapshot


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_demo_publishes_rounds_and_reports(tmp_path: Path) -> None:
    state = tmp_path / "state"
    cmd = [
        sys.executable,
        "-m",
        "mpcrec.cli.app",
        "demo",
        "--model",
        "mf",
        "--instances",
        "4",
        "--rounds",
        "2",
        "--cooldown",
        "1",
        "--plaintext",
        "--no-dp",
        "--no-baselines",
        "--format",
        "json",
        "--state-dir",
        str(state),
        "--timeout",
        "200",
    ]

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=230)

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((state / "demo.json").read_text())
    assert report["rounds_published"] == 2 and report["model_version"] == 2
    assert [len(set(c)) for c in report["committees"]] == [3, 3]
    assert report["upload_bytes_per_instance"] > 8 * 1682 * 32  # plaintext: the whole update
    assert 0.0 < report["ndcg@10"] <= report["hr@10"] <= 1.0
    assert (state / "events.jsonl").exists() and (state / "launcher" / "launcher.sqlite").exists()
    # the peak is summed over the beacon, the launcher and the 4 nodes (and their children)
    assert report["peak_processes"] >= 6 and report["peak_rss_mib"] > 6 * 20
    assert len(list((state / "nodes").glob("*/user_emb.npz"))) == 4  # kept at home
    snapshot = ModelSnapshot.load(state / "nodes" / "ml-00" / "snapshot.npz")
    user = min(snapshot.local_users)
    shown = snapshot.recommend(user, 10)
    assert snapshot.version in ("v1", "v2")  # v2 unless the launcher exited first
    assert len(shown.videos) == 10 and shown.fallback is None
