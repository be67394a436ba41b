"""`mpcrec bench audit` runs end to end on a tiny federation and writes its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mpcrec.cli.app import main


@pytest.mark.parametrize("commitments", ["chain", "per-round"])
def test_bench_audit_writes_json(tmp_path: Path, commitments: str) -> None:
    out = tmp_path / "audit.json"
    code = main(
        ["bench", "audit", "--rounds", "3", "--instances", "8", "--workers", "1",
         "--commitments", commitments, "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert result["verified"] is True and result["findings"] == 0
    n = 8
    per_round = 3 + n + 3 + 1 + (n if commitments == "per-round" else 0)
    setup = 1 + n + (0 if commitments == "per-round" else n)
    assert result["entries"] == setup + 3 * per_round
    assert result["tree_heads"] == 4
