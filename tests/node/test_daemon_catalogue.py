"""Whole rounds with a catalogue, in process: honest nodes verify the signed version and
take part; a node served rows the launcher did not sign refuses (``catalogue-unverified``)."""

from __future__ import annotations

import json
from pathlib import Path

from mpcrec.audit.checks import check_catalogue
from mpcrec.audit.entries import Kind
from mpcrec.audit.history import replay
from tests.node.catalogue_world import Door as Door  # where other tests found it
from tests.node.catalogue_world import catalogue_world

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]


def test_honest_nodes_verify_the_signed_catalogue_and_a_tampered_copy_is_refused(
    tmp_path: Path,
) -> None:
    # Prepare: each instance exported two public videos before the first round
    fed = catalogue_world(tmp_path, NAMES, tamper=["tube-d"])
    world, launcher, clock = fed.world, fed.world.launcher, fed.clock
    for name in NAMES:
        fed.export(name, range(2))
    handed: list[int] = []
    keep = world.nodes["tube-a"].catalogue.on_verified
    world.nodes["tube-a"].catalogue.on_verified = lambda e: (handed.append(e.index), keep(e))
    world.register_all()
    try:
        # Execute
        for _ in range(20):  # tube-d never commits: the commit deadline closes the open state
            launcher.advance()
            world.hand_out(world.current())
            if launcher.model(-1).version >= 1:
                break
            clock.now += 61
        # Assert: version 1 was signed before the round that named it; three nodes hold it
        log = list(launcher.trail.log.entries())
        kinds = [e.kind for e in log]
        assert kinds.index(Kind.CATALOGUE) < kinds.index(Kind.ROUND_OPEN)
        assert check_catalogue(replay(log)[0]) == []
        honest = [world.nodes[n] for n in NAMES[:3]]
        assert all(n.catalogue.index.tip.version == 1 for n in honest)
        assert all(len(n.catalogue.index) == 8 for n in honest)
        # ... and proved its entry is in the log at the round's end (own entries proven)
        assert handed == [kinds.index(Kind.CATALOGUE)]
        assert all(not [e for e in n.own.to_prove(10) if e.kind == Kind.CATALOGUE] for n in honest)
        assert not any((tmp_path / n / "refusals.jsonl").exists() for n in NAMES[:3])
        refused = (tmp_path / "tube-d" / "refusals.jsonl").read_text().splitlines()
        assert {json.loads(r)["rule"] for r in refused} == {"catalogue-unverified"}
        assert world.nodes["tube-d"].catalogue.index.tip.version == 0
        round_one = launcher.store.get_round(1)
        assert round_one is not None and "tube-d" not in round_one.contributors
    finally:
        world.close()
