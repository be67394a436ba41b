"""An in-process federation with a catalogue: the launcher's :class:`LauncherCatalogue` on
its signed log, one :class:`Door` to it per instance, and node daemons that reach it through
their door (the set-up of the catalogue and grown-round tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from launch.catalogue import LauncherCatalogue
from mpcrec.data.catalogue import VideoRecord
from mpcrec.data.catalogue_merge import InstanceExport, decode_export, encode_export
from mpcrec.node.daemon import Node
from mpcrec.node.trainer import DriftTrainer, Trainer
from tests.node.world import RATE, Clock, World, make_launcher, node_config


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


def video(instance: str, k: int) -> VideoRecord:
    """Video ``k`` of ``instance``: its URL only, no metadata."""
    return VideoRecord(f"https://{instance}/videos/watch/{k}")


@dataclass
class CatalogueWorld:
    """The world, the launcher's catalogue, each instance's door and the launcher's clock."""

    world: World
    catalogue: LauncherCatalogue
    doors: dict[str, Door]
    clock: Clock

    def export(
        self,
        instance: str,
        videos: range,
        record: Callable[[str, int], VideoRecord] = video,
    ) -> int:
        """``instance`` exports ``videos`` (each made by ``record``) through its door."""
        records = tuple(record(instance, k) for k in videos)
        return self.doors[instance].submit(encode_export(InstanceExport(instance, records)))


def catalogue_world(
    tmp_path: Path,
    names: Sequence[str],
    trainers: Mapping[str, Trainer] | None = None,
    *,
    tamper: Sequence[str] = (),
) -> CatalogueWorld:
    """Nodes ``names`` (a :class:`DriftTrainer` unless ``trainers`` names another; the doors
    of ``tamper`` re-point row 0) on an in-memory launcher with a catalogue, not registered."""
    clock = Clock()
    launcher = make_launcher(clock=clock)
    assert launcher.trail.log is not None
    catalogue = launcher.catalogue = LauncherCatalogue(tmp_path / "catalogue", launcher.trail.log)
    world = World(launcher, {})
    doors = {name: Door(catalogue, name, tamper=name in tamper) for name in names}
    for name in names:
        trainer = (trainers or {}).get(name) or DriftTrainer(name, rate=RATE)
        world.add(Node(node_config(tmp_path, name), trainer, catalogue=doors[name]))
    return CatalogueWorld(world, catalogue, doors, clock)
