"""The node's backoff toward the launcher: capped, exponential, one log line per change."""

from __future__ import annotations

import logging

import pytest

from mpcrec.node.reconnect import LauncherLink


def test_backoff_doubles_up_to_the_cap_and_resets_on_reconnect() -> None:
    # Prepare
    link = LauncherLink("tube-a", first=0.2, cap=3.0)
    # Execute
    waits = [link.failed("refused", "model v2") for _ in range(8)]
    link.connected()
    after = link.failed("refused", "model v2")
    # Assert: each wait in the upper fifth of 0.2, 0.4, 0.8, 1.6, then 3.0 (the cap)
    nominal = [0.2, 0.4, 0.8, 1.6, 3.0, 3.0, 3.0, 3.0]
    assert all(0.8 * n <= w <= n for w, n in zip(waits, nominal, strict=True))
    assert 0.16 <= after <= 0.2


def test_one_warning_per_outage_and_one_line_when_back(caplog: pytest.LogCaptureFixture) -> None:
    # Prepare
    link = LauncherLink("tube-a")
    caplog.set_level(logging.DEBUG, logger="mpcrec.node.reconnect")
    # Execute: two outages of 20 attempts each, separated by a reconnection
    link.connected()
    for _ in range(20):
        link.failed("connection refused", "model v2")
    link.connected()
    for _ in range(20):
        link.failed("connection refused", "model v3")
    # Assert
    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.levelno for r in loud] == [logging.WARNING, logging.INFO, logging.WARNING]
    assert "still serving model v2" in loud[0].getMessage()
    assert "reachable again after 20 attempts" in loud[1].getMessage()
    assert "still serving model v3" in loud[2].getMessage()
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 38


def test_a_backoff_that_cannot_grow_is_refused() -> None:
    with pytest.raises(ValueError, match="must be in"):
        LauncherLink("tube-a", first=5.0, cap=1.0)
