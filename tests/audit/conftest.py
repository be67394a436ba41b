"""A small simulated federation and a way to rewrite its log as a dishonest launcher would."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry
from mpcrec.audit.simulate import SimulatedFederation, simulate_federation
from mpcrec.audit.verify import Report, parse_lines, verify_entries


@pytest.fixture(scope="session")
def federation() -> SimulatedFederation:
    """12 rounds of 8 instances, committees of 3 with a TTP dealer, cooldown 2; round 4 and
    9 abort after the draw; rounds 0, 4 and 8 reject one contribution."""
    return simulate_federation(rounds=12, instances=8, cooldown=2, abort_every=5, reject_every=4)


def rebuild(sim: SimulatedFederation, entries: Sequence[LogEntry]) -> SimulatedFederation:
    """Re-sign ``entries`` with their authors' keys, renumber them and sign fresh heads (one
    after every publish or abort, one at the end): a launcher (with colluding members where
    needed) producing a well-formed log that breaks a protocol rule."""
    out = SimulatedFederation(sim.launcher_key, sim.instance_keys)
    for entry in entries:
        key = sim.launcher_key if entry.author == LAUNCHER else sim.instance_keys[entry.author]
        out.append(replace(entry, signature=b""), key)
        if entry.kind in (Kind.PUBLISH, Kind.ABORT):
            out.sign_head()
    out.sign_head()
    return out


def verify_lines(lines: Sequence[bytes], sim: SimulatedFederation | None = None) -> Report:
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
