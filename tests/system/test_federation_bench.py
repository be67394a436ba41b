"""``mpcrec bench federation`` end to end at a small N (issue 15): a real launcher, the local
beacon and two load processes of simulated instances publish every round with no error,
and each instance fetches each model it contributes to once, as a serving node follows the
newest model (``--model-fetch announced``, the default)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

INSTANCES, ROUNDS = 6, 2


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.xdist_group("federation-bench")
def test_small_federation_bench_publishes_every_round_without_errors(tmp_path: Path) -> None:
    out = tmp_path / "federation.json"
    cmd = [sys.executable, "-m", "mpcrec.cli.app", "bench", "federation"]
    cmd += ["--instances", str(INSTANCES), "--rounds", str(ROUNDS), "--processes", "2"]
    cmd += ["--windows", "1", "--timeout", "180", "--pki", str(tmp_path / "pki")]
    cmd += ["--out", str(out)]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(cmd, env=env, capture_output=True, timeout=220, check=False)
    assert done.returncode == 0, done.stdout.decode()[-2000:] + done.stderr.decode()[-2000:]

    result = json.loads(out.read_text())["results"][0]
    assert result["rounds_published"] == ROUNDS and result["rounds_aborted"] == []
    assert result["errors"] == 0 and result["unfinished_instances"] == 0
    assert result["model_fetch"] == "announced"
    calls = result["calls"]
    assert calls["UploadContribution"] == INSTANCES * ROUNDS
    # models 0 .. ROUNDS - 1, each fetched once per instance (the last one is not: the
    # launcher exits once it is published)
    assert calls["GetModel"] == INSTANCES * ROUNDS
    assert result["launcher_cpu_s_per_round_median"] > 0
