"""The node's backoff toward the launcher: capped, exponential, one log line per change;
refusals and "register again" apart from outages (:mod:`mpcrec.node.reconnect`)."""

from __future__ import annotations

import logging

import pytest

from mpcrec.federation.refusals import LauncherUnreachable, NotPermitted, RegisterAgain
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


def test_register_again_is_at_once_the_first_time_then_backed_off_until_a_round_is_handled() -> (
    None
):
    # Prepare
    link = LauncherLink("tube-a", first=0.2, cap=3.0)
    again = RegisterAgain("tube-a: contribution sealed under other round parameters")
    # Execute: asked four times without an announcement handled, then once more after one
    waits = [link.ended(again, "its upload of round 2", "nothing") for _ in range(4)]
    link.connected()
    after = link.ended(again, "its upload of round 3", "nothing")
    # Assert: 0 s, then 0.2, 0.4, 0.8 (each in its upper fifth); 0 s again after a round
    assert waits[0] == 0.0
    assert all(0.8 * n <= w <= n for w, n in zip(waits[1:], [0.2, 0.4, 0.8], strict=True))
    assert after == 0.0


def test_refusals_and_outages_back_off_apart_and_both_reset_when_a_round_is_handled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Prepare
    link = LauncherLink("tube-a", first=0.2, cap=3.0)
    caplog.set_level(logging.DEBUG, logger="mpcrec.node.reconnect")
    denied = NotPermitted("tube-a is not registered")
    # Execute: three refusals, an outage, three refusals more, a round handled, one more
    refused = [link.ended(denied, "its registration", "nothing") for _ in range(3)]
    down = link.ended(LauncherUnreachable("connection refused"), "its watch", "nothing")
    refused += [link.ended(denied, "its registration", "nothing") for _ in range(3)]
    link.connected()
    after = link.ended(denied, "its registration", "nothing")
    # Assert: the refusals' waits double on their own (0.2 ... 3.0), the outage's starts at
    # 0.2; one WARNING per refusal reason while no round was handled, again after one
    nominal = [0.2, 0.4, 0.8, 1.6, 3.0, 3.0]
    assert all(0.8 * n <= w <= n for w, n in zip(refused, nominal, strict=True))
    assert 0.16 <= down <= 0.2 and 0.16 <= after <= 0.2
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 3, warned
    assert "the launcher refused its registration (PERMISSION_DENIED)" in warned[0]
    assert "launcher unreachable (connection refused)" in warned[1]
    assert "the launcher refused its registration (PERMISSION_DENIED)" in warned[2]
