"""The launcher's one summary line per round aborted while computing (:mod:`launch.round_log`):
every member's report, once all have reported or the grace has passed, without holding the
next round back. Real node daemons compute in process (:mod:`tests.node.world`); the clock
moves only when the test moves it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from launch.launcher import Event
from launch.round import Phase
from launch.round_log import GRACE_S
from mpcrec.federation.refusals import RoundStateError
from mpcrec.node.config import PrivacyFloor
from mpcrec.node.messages import failure
from tests.node.world import POLICY, Clock, World, drive, make_launcher

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]
FLOOR = PrivacyFloor(allow_plaintext=True, allow_model_reuse=True)  # fault tests


def _summaries(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    return [line for line in found if "; its members: " in line]


def test_a_member_silent_after_the_abort_is_named_once_the_grace_has_passed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: a round computing, its members' steps not taken
    clock = Clock()
    world = World.in_process(make_launcher(clock=clock), tmp_path, NAMES, privacy_floor=FLOOR)
    world.register_all()
    ann = drive(world, lambda a: a.phase is Phase.COLLECTING)
    world.launcher.advance()
    assert world.current().phase is Phase.COMPUTING
    first, second, third = ann.members
    rid = ann.round_id
    caplog.set_level(logging.INFO, logger="mpcrec.launcher")
    events: list[Event] = []
    world.launcher.on_event = events.append

    # Execute: the first member's failure aborts the round; a second fails after the abort,
    # the third never reports
    world.clients[first].submit_result(failure(first, rid, "peer died"))
    world.launcher.advance()
    opened = world.current()
    clock.now += 5
    with pytest.raises(RoundStateError):  # too late, as before
        world.clients[second].submit_result(failure(second, rid, "session set-up timed out"))
    clock.now += GRACE_S - 6  # a second before the grace ends
    world.launcher.advance()
    before_grace = _summaries(caplog)
    clock.now += 1
    world.launcher.advance()
    world.launcher.advance()

    # Assert: the next round opened at the abort; no summary before the grace, then one
    # line with every member's report, the silent one named
    assert opened.round_id == rid + 1 and opened.phase is Phase.OPEN
    assert before_grace == []
    reason = f"members failed: {{'{first}': 'peer died'}}"
    assert _summaries(caplog) == [
        f"round {rid} aborted ({reason}); its members: {first} failed: 'peer died'; "
        f"{second} failed: 'session set-up timed out'; "
        f"{third}: no report ({GRACE_S:.0f} s after the abort)"
    ]
    summary = [e for e in events if e["event"] == "abort_summary"]
    assert summary == [
        {
            "event": "abort_summary",
            "time": clock.now,
            "round_id": rid,
            "reason": reason,
            "failed": {first: "peer died", second: "session set-up timed out"},
            "returned": [],
            "silent": [third],
        }
    ]
    world.close()


def test_a_round_aborted_at_its_deadline_is_summarised_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: two members compute and return their results; the third stays silent
    clock = Clock()
    world = World.in_process(make_launcher(clock=clock), tmp_path, NAMES, privacy_floor=FLOOR)
    world.register_all()
    ann = drive(world, lambda a: a.phase is Phase.COLLECTING)
    silent = ann.members[0]
    drive(world, lambda a: a.phase is Phase.COMPUTING, skip=[silent])
    caplog.set_level(logging.INFO, logger="mpcrec.launcher")

    # Execute: the computing deadline passes (every report was due by then)
    clock.now += POLICY.compute_s + 1
    drive(world, lambda a: a.round_id > ann.round_id, skip=[silent])

    # Assert: one summary, at the abort: the results returned, the silent member named
    aborted = world.launcher.store.get_round(ann.round_id)
    assert aborted is not None and aborted.phase is Phase.ABORTED
    said = [
        f"{m} returned its result" if m != silent else f"{m}: no report (0 s after the abort)"
        for m in ann.members
    ]
    assert _summaries(caplog) == [
        f"round {ann.round_id} aborted ({aborted.reason}); its members: " + "; ".join(said)
    ]
    world.close()
