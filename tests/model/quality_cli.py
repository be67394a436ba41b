"""``mpcrec bench quality`` run through the CLI on a small clustered interactions file
(:func:`tests.model.conftest.clustered`), its JSON report read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mpcrec.cli.app import main
from tests.model.conftest import clustered


def interactions_csv(path: Path, *, n_users: int, n_items: int, per_user: int) -> Path:
    """A ``user,item,timestamp`` file of :func:`clustered` interactions at ``path``."""
    data = clustered(n_users=n_users, n_items=n_items, per_user=per_user)
    lines = ["user,item,timestamp"] + [
        f"{data.user_ids[u]},{data.item_ids[i]},{t}"
        for u, i, t in zip(data.users, data.items, data.timestamps, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_quality_bench(
    tmp_path: Path, *, n_users: int, n_items: int, per_user: int, args: list[str]
) -> dict[str, Any]:
    """``mpcrec bench quality --interactions EVENTS ARGS --out q.json`` (it must exit 0) on
    a clustered file written under ``tmp_path``; the report, parsed as strict JSON."""
    events = interactions_csv(
        tmp_path / "events.csv", n_users=n_users, n_items=n_items, per_user=per_user
    )
    out = tmp_path / "q.json"
    assert main(["bench", "quality", "--interactions", str(events), *args, "--out", str(out)]) == 0
    report: dict[str, Any] = json.loads(
        out.read_text(), parse_constant=lambda c: pytest.fail(f"not JSON: {c}")
    )
    return report
