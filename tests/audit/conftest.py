"""Two honest logs of the same shape, and a way to rewrite one as a dishonest launcher would.

``simulated_log`` comes from :func:`mpcrec.audit.simulate.simulate_federation`; ``real_log``
is exported from a real :class:`launch.launcher.Launcher` run (``tests/audit/real_log.py``).
Both: rounds 1..12 of 8 instances, committees of 3 with a TTP dealer, cooldown 2, each round
bound to a beacon round; rounds 5 and 10 abort after the draw with too few contributions;
rounds 4, 8 and 12 reject one contribution. The ``federation`` fixture runs a test on each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry
from mpcrec.audit.simulate import FederationLog, simulate_federation
from mpcrec.audit.verify import Report, parse_lines, verify_entries

from .real_log import run_federation

ROUNDS, ABORT_EVERY, REJECT_EVERY = 12, 5, 4


@pytest.fixture(scope="session")
def simulated_log() -> FederationLog:
    """The simulator's log (see the module docstring)."""
    return simulate_federation(
        rounds=ROUNDS, instances=8, cooldown=2, abort_every=ABORT_EVERY, reject_every=REJECT_EVERY
    )


@pytest.fixture(scope="session")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> FederationLog:
    """A real launcher's exported log (see the module docstring)."""
    state_dir: Path = tmp_path_factory.mktemp("launcher-state")
    return run_federation(
        state_dir, rounds=ROUNDS, instances=8, abort_every=ABORT_EVERY, reject_every=REJECT_EVERY
    )


@pytest.fixture(params=["simulated_log", "real_log"])
def federation(request: pytest.FixtureRequest) -> FederationLog:
    """Each honest log in turn."""
    log: FederationLog = request.getfixturevalue(request.param)
    return log


def rebuild(sim: FederationLog, entries: Sequence[LogEntry]) -> FederationLog:
    """Re-sign ``entries`` with their authors' keys, renumber them and sign fresh heads (one
    after every publish or abort, one at the end): a launcher (with colluding members where
    needed) producing a well-formed log that breaks a protocol rule."""
    out = FederationLog(sim.launcher_key, sim.instance_keys)
    for entry in entries:
        key = sim.launcher_key if entry.author == LAUNCHER else sim.instance_keys[entry.author]
        out.append(replace(entry, signature=b""), key)
        if entry.kind in (Kind.PUBLISH, Kind.ABORT):
            out.sign_head()
    out.sign_head()
    return out


def verify_lines(lines: Sequence[bytes], sim: FederationLog | None = None) -> Report:
    """Parse and verify JSON Lines (with the federation's key file pinned, if given)."""
    entries, heads, bad = parse_lines(lines)
    pinned = None
    if sim is not None:
        keys = sim.key_file()
        pinned = {i: bytes.fromhex(k) for i, k in keys["instances"].items()}
        pinned[LAUNCHER] = bytes.fromhex(keys["launcher"])
    report = verify_entries(entries, heads, pinned=pinned)
    report.findings[:0] = bad
    return report
