"""The operator's views: JSON events line by line, and the live round table."""

from __future__ import annotations

import io
import json

from rich.console import Console

from launch.view import JsonEvents, RoundTable

EVENTS = [
    {
        "event": "round",
        "time": 10.0,
        "round_id": 1,
        "state": "open",
        "model_version": 0,
        "committee": [],
        "contributors": [],
        "upload_bytes": 0,
        "reason": "",
    },
    {"event": "contribution", "time": 11.0, "round_id": 1, "instance": "a", "bytes": 2_000_000},
    {
        "event": "round",
        "time": 12.5,
        "round_id": 1,
        "state": "aborted",
        "model_version": 0,
        "committee": ["a", "b", "c"],
        "contributors": [],
        "upload_bytes": 2_000_000,
        "reason": "no result from ['b'] before the deadline",
    },
]


def test_json_events_one_line_each() -> None:
    out = io.StringIO()
    view = JsonEvents(out)

    for event in EVENTS:
        view(event)

    assert [json.loads(line) for line in out.getvalue().splitlines()] == EVENTS


def test_round_table_shows_state_committee_time_bytes_and_reason() -> None:
    out = io.StringIO()
    view = RoundTable(Console(file=out, width=160, force_terminal=False))

    for event in EVENTS:
        view(event)
    view.close()

    last = out.getvalue().split("mpcrec launcher")[-1]
    row = next(line for line in last.splitlines() if "aborted" in line)
    assert "a b c" in row and "2.5s" in row and "2.00 MB" in row and "no result from" in row


def test_round_table_shows_the_epsilon_spent_after_each_round() -> None:
    out = io.StringIO()
    view = RoundTable(Console(file=out, width=180, force_terminal=False))
    spent = [
        dict(EVENTS[0], round_id=2, epsilon=3.14159),
        dict(EVENTS[0], round_id=3, epsilon=None),
    ]

    for event in spent:
        view(event)
    view.close()

    last = out.getvalue().split("mpcrec launcher")[-1]
    rows = [line for line in last.splitlines() if "open" in line]
    assert "3.14" in rows[0] and "inf" in rows[1]
