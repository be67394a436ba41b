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


def test_late_commitments_are_placed_between_the_client_and_the_launchers_handler() -> None:
    # Prepare: round 1 opened at 100, revealing at 103; the launcher's handlers of two
    # commitments began 0.5 s and 3.5 s after open (the second while revealing), a model
    # fetch's 1 s after open; one commitment was refused at 103.8; a load loop lagged 0.4 s
    events = [
        {"event": "round", "round_id": 1, "state": "open", "time": 100.0},
        {
            "event": "announced",
            "round_id": 1,
            "state": "open",
            "time": 100.0,
            "handled_s": {"SubmitCommit": [0.5], "GetModel": [1.0]},
            "loop_lag_s": {"count": 3, "p50": 0.01, "p95": 0.2, "max": 0.3},
        },
        {"event": "round", "round_id": 1, "state": "revealing", "time": 103.0},
        {
            "event": "announced",
            "round_id": 1,
            "state": "revealing",
            "time": 103.0,
            "handled_s": {"SubmitCommit": [0.5]},
        },
    ]
    loads = [{"refused_at": {"1:open": [103.8]}, "loop_lag": [[101.0, 0.4], [103.1, 0.2]]}]

    # Execute
    found = timing(events, loads, window_s=3.0)["lateness"]

    # Assert
    assert abs(found["refused_s"]["open"]["max"] - 3.8) < 1e-9
    assert found["commit_handled_s"]["count"] == 2
    assert found["commit_handled_s"]["max"] == 3.5  # from open, though handled in revealing
    assert found["model_fetch_handled_s"]["open"]["p50"] == 1.0
    assert found["launcher_loop_lag_max_s"] == {"open": 0.3, "revealing": 0.0}
    assert found["load_loop_lag_max_s"] == {"open": 0.4, "revealing": 0.2}
