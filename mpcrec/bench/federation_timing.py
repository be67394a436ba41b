"""Where a round's time goes in ``mpcrec bench federation``: announcement delivery and calls.

The launcher's JSON events give when each round entered each state (its clock); each load
process notes, per instance, when it received that state's announcement and when its call
for it (commitment, reveal, upload, result) was answered (:mod:`mpcrec.bench.
federation_load`, the same machine's clock). Per state, over every instance and round:

- **written**: the launcher's write of the announcement to a watcher ended (its
  ``announced`` events: rendering once, then handing the bytes to each stream);
- **delivery**: announcement received minus state entered (the above, the network, and the
  client's loop reading it);
- **sent**: the instance sent its call (commitment, reveal, upload) for that state (after
  its own work: signing, sealing);
- **answered**: call answered minus state entered (then the call through the launcher's
  worker pool and lock).

A reveal answered later than the reveal window after ``revealing`` began is one that missed
it: :func:`timing` counts those per round.
"""

from __future__ import annotations

from typing import Any


def _at(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": _at(ordered, 0.5),
        "p95": _at(ordered, 0.95),
        "max": ordered[-1],
    }


def state_times(events: list[dict[str, Any]]) -> dict[str, float]:
    """``"round:state"`` to when the launcher entered it (its first event of it)."""
    entered: dict[str, float] = {}
    for e in events:
        if e.get("event") == "round":
            entered.setdefault(f"{e['round_id']}:{e['state']}", float(e["time"]))
    return entered


def _lags(entered: dict[str, float], noted: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Per state name, every (noted time - entered time) over rounds and load processes."""
    found: dict[str, list[float]] = {}
    for times in noted:
        for key, values in times.items():
            if key in entered:
                state = key.split(":", 1)[1]
                found.setdefault(state, []).extend(t - entered[key] for t in values)
    return found


def written(events: list[dict[str, Any]]) -> dict[str, list[float]]:
    """``"round:state"`` to when the launcher's writes of its announcement to the watchers
    ended (its ``announced`` events)."""
    found: dict[str, list[float]] = {}
    for e in events:
        if e.get("event") == "announced":
            at = float(e["time"])
            key = f"{e['round_id']}:{e['state']}"
            found.setdefault(key, []).extend(at + float(t) for t in e.get("writes_s", []))
    return found


def timing(
    events: list[dict[str, Any]], loads: list[dict[str, Any]], *, window_s: float
) -> dict[str, Any]:
    """Per state, in seconds after the launcher entered it (count, p50, p95, max): when the
    launcher's writes of the announcement ended (``written_s``), when the instances received
    it (``delivery_s``), sent their call (``sent_s``) and had it answered (``answered_s``);
    and per round how many reveals were answered more than ``window_s`` after ``revealing``
    began."""
    entered = state_times(events)
    launcher = _lags(entered, [written(events)])
    received = _lags(entered, [r.get("received", {}) for r in loads])
    sent = _lags(entered, [r.get("started", {}) for r in loads])
    answered = _lags(entered, [r.get("answered", {}) for r in loads])
    late: dict[str, int] = {}
    for report in loads:
        for key, values in report.get("answered", {}).items():
            if key.endswith(":revealing") and key in entered:
                over = sum(1 for t in values if t - entered[key] > window_s)
                late[key.split(":")[0]] = late.get(key.split(":")[0], 0) + over
    return {
        "written_s": {state: _percentiles(v) for state, v in sorted(launcher.items())},
        "delivery_s": {state: _percentiles(v) for state, v in sorted(received.items())},
        "sent_s": {state: _percentiles(v) for state, v in sorted(sent.items())},
        "answered_s": {state: _percentiles(v) for state, v in sorted(answered.items())},
        "reveals_after_window": late,
    }
