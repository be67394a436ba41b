"""Whole rounds with a catalogue, in process: honest nodes verify the signed version and
take part; a node served rows the launcher did not sign refuses (``catalogue-unverified``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from launch.catalogue import LauncherCatalogue
from mpcrec.audit.checks import check_catalogue
from mpcrec.audit.entries import Kind
from mpcrec.audit.history import replay
from mpcrec.data.catalogue import VideoRecord
from mpcrec.data.catalogue_merge import InstanceExport, decode_export, encode_export
from mpcrec.node.daemon import Node
from mpcrec.node.trainer import DriftTrainer
from tests.node.world import RATE, Clock, World, make_launcher, node_config

NAMES = ["tube-a", "tube-b", "tube-c", "tube-d"]


class Door:
    """The launcher's Catalogue service, in process, as instance ``me``."""

    def __init__(self, catalogue: LauncherCatalogue, me: str, *, tamper: bool = False) -> None:
        self.catalogue, self.me, self.tamper = catalogue, me, tamper

    def fetch(self, since: int) -> Iterator[tuple[int, bytes, bytes]]:
        for version, data, entry in self.catalogue.since(since):
            if self.tamper:  # row 0 re-pointed to another video
                data = data.replace(b"https://tube-a/videos/watch/0", b"https://evil/watch/0")
            yield version, data, entry

    def submit(self, export: bytes) -> int:
        return self.catalogue.submit(decode_export(export, instance=self.me))


def test_honest_nodes_verify_the_signed_catalogue_and_a_tampered_copy_is_refused(
    tmp_path: Path,
) -> None:
    # Prepare: each instance exported two public videos before the first round
    clock = Clock()
    launcher = make_launcher(clock=clock)
    assert launcher.trail.log is not None
    catalogue = launcher.catalogue = LauncherCatalogue(tmp_path / "catalogue", launcher.trail.log)
    world = World(launcher, {})
    for name in NAMES:
        door = Door(catalogue, name, tamper=name == "tube-d")
        node = Node(node_config(tmp_path, name), DriftTrainer(name, rate=RATE), catalogue=door)
        world.add(node)
        videos = tuple(VideoRecord(f"https://{name}/videos/watch/{k}") for k in range(2))
        door.submit(encode_export(InstanceExport(name, videos)))
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
