"""Where a round's time goes in `mpcrec bench federation` (mpcrec.bench.federation_timing)."""

from __future__ import annotations

from mpcrec.bench.federation_timing import timing


def test_lags_are_measured_from_when_the_launcher_entered_each_state() -> None:
    # Prepare: round 1 opened at 100 and began revealing at 103; two load processes
    events = [
        {"event": "round", "round_id": 1, "state": "open", "time": 100.0},
        {
            "event": "announced",
            "round_id": 1,
            "state": "open",
            "time": 100.1,
            "writes_s": [0.1, 0.3],
        },
        {"event": "round", "round_id": 1, "state": "revealing", "time": 103.0},
        {"event": "round", "round_id": 1, "state": "revealing", "time": 109.0},  # not first
    ]
    loads = [
        {
            "received": {"1:open": [100.5, 101.0]},
            "started": {"1:revealing": [103.5]},
            "answered": {"1:open": [101.5], "1:revealing": [104.0]},
        },
        {
            "received": {"1:open": [102.0], "2:open": [999.0]},  # a round without an event
            "answered": {"1:revealing": [106.5, 103.2]},
        },
    ]

    # Execute
    found = timing(events, loads, window_s=3.0)

    # Assert
    assert abs(found["written_s"]["open"]["max"] - 0.4) < 1e-9
    assert found["delivery_s"]["open"] == {"count": 3, "p50": 1.0, "p95": 2.0, "max": 2.0}
    assert found["sent_s"]["revealing"]["p50"] == 0.5
    assert found["answered_s"]["revealing"]["count"] == 3
    assert found["reveals_after_window"] == {"1": 1}  # 106.5 is 3.5 s after 103
