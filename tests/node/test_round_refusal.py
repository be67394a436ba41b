"""The node's refusal log: one readable line, one JSON line per refusal."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mpcrec.node.round_refusal import RefusalLog, RoundRefused


def test_a_refusal_is_logged_and_kept_as_a_json_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refusals = RefusalLog(tmp_path / "state", "tube-a")
    assert refusals.entries() == []

    with caplog.at_level(logging.WARNING, logger="mpcrec.node"):
        refusals.record(7, RoundRefused("floor-aggregation", "plaintext is below the floor"))
        refusals.record(8, RoundRefused("unbound-key", "tube-b's sealing key"))

    assert [(e["round"], e["rule"]) for e in refusals.entries()] == [
        (7, "floor-aggregation"),
        (8, "unbound-key"),
    ]
    assert "tube-a: round 7: refused (floor-aggregation): plaintext" in caplog.text
    assert RefusalLog(tmp_path / "state", "tube-a").entries()[1]["detail"] == "tube-b's sealing key"
