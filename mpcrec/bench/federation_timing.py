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
it: :func:`timing` counts those per round. Where a late call waited (:func:`lateness`):

- **refused**: a call refused (a commitment after the commit window), after the state began;
- **handled**: the launcher's handler of a commitment began (in its worker pool), after
  ``open`` began, and of every ``GetModel`` after the state then current began (its
  ``announced`` events);
- **launcher loop lag**: how late the launcher's event loop ran, per state (the largest and
  the 95th percentile of its samples while that state was the latest announced);
- **load loop lag**: the largest lag of the load processes' loops while the state lasted.
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
        "lateness": lateness(events, loads),
    }


def _entered_order(entered: dict[str, float]) -> list[tuple[float, str]]:
    return sorted((at, key) for key, at in entered.items())


def _state_at(order: list[tuple[float, str]], when: float) -> str | None:
    """The ``"round:state"`` the launcher was in at ``when``."""
    found = None
    for at, key in order:
        if at > when:
            break
        found = key
    return found


def lateness(events: list[dict[str, Any]], loads: list[dict[str, Any]]) -> dict[str, Any]:
    """Where late calls waited (see the module docstring), in seconds after the state began."""
    entered = state_times(events)
    refused = _lags(entered, [r.get("refused_at", {}) for r in loads])
    commits: list[float] = []
    fetches: dict[str, list[float]] = {}
    lag_max: dict[str, list[float]] = {}
    lag_p95: dict[str, list[float]] = {}
    for e in events:
        if e.get("event") != "announced":
            continue
        key, at = f"{e['round_id']}:{e['state']}", float(e["time"])
        opened = entered.get(f"{e['round_id']}:open")
        handled = e.get("handled_s", {})
        if opened is not None:
            commits.extend(at + t - opened for t in handled.get("SubmitCommit", []))
        if key in entered:
            state = e["state"]
            fetches.setdefault(state, []).extend(
                at + t - entered[key] for t in handled.get("GetModel", [])
            )
            lag = e.get("loop_lag_s") or {}
            lag_max.setdefault(state, []).append(float(lag.get("max", 0.0)))
            lag_p95.setdefault(state, []).append(float(lag.get("p95", 0.0)))
    order = _entered_order(entered)
    load_lag: dict[str, float] = {}
    for report in loads:
        for when, late in report.get("loop_lag", []):
            during = _state_at(order, float(when))
            if during is not None:
                state = during.split(":", 1)[1]
                load_lag[state] = max(load_lag.get(state, 0.0), float(late))
    return {
        "refused_s": {state: _percentiles(v) for state, v in sorted(refused.items())},
        "commit_handled_s": _percentiles(commits),
        "model_fetch_handled_s": {s: _percentiles(v) for s, v in sorted(fetches.items())},
        "launcher_loop_lag_max_s": {s: max(v) for s, v in sorted(lag_max.items())},
        "launcher_loop_lag_p95_s": {s: max(v) for s, v in sorted(lag_p95.items())},
        "load_loop_lag_max_s": dict(sorted(load_lag.items())),
    }
