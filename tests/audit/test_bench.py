"""`mpcrec bench audit` runs end to end on a tiny federation and writes its JSON."""

from __future__ import annotations

import json
from pathlib import Path

from mpcrec.cli.app import main


def test_bench_audit_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    code = main(
        ["bench", "audit", "--rounds", "3", "--instances", "8", "--workers", "1",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert result["verified"] is True and result["findings"] == 0
    n = 8
    # open, commits, reveals + committee, contributions, the maps, results, publish
    per_round = 1 + n + 2 + n + 1 + 3 + 1
    setup = 1 + n  # config and registrations
    assert result["entries"] == setup + 3 * per_round
    assert result["tree_heads"] == 3
