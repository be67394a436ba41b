"""The growing model's new rows start at their content rows, on the launcher and on every
node alike (mpcrec.model.content_initial.CatalogueContentRows over each one's own copy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mpcrec.data.catalogue import VideoRecord
from mpcrec.data.catalogue_merge import InstanceExport
from mpcrec.federation.grown_model import retired_flags
from mpcrec.model.content_initial import content_rows_rule
from mpcrec.node.grown_round import round_base
from mpcrec.node.trainer import DriftTrainer
from tests.node.catalogue_world import catalogue_world, video
from tests.node.world import RATE, drive
from tests.node.world import published as published_until

NAMES = ["tube-a", "tube-b", "tube-c"]
TAGS = ("news", "music", "sport")


def _tagged(instance: str, k: int) -> VideoRecord:
    """Video ``k`` of ``instance`` with public metadata (a title, a tag, its channel)."""
    return VideoRecord(
        f"https://{instance}/videos/watch/{k}",
        name=f"{TAGS[k % 3]} show {k}",
        tags=(TAGS[k % 3],),
        channel=instance,
    )


def test_launcher_and_nodes_start_new_rows_at_the_same_content_rows(tmp_path: Path) -> None:
    fed = catalogue_world(tmp_path, NAMES)
    world, launcher, catalogue = fed.world, fed.world.launcher, fed.catalogue
    for name in NAMES:
        fed.export(name, range(3), _tagged)
    world.register_all()
    try:
        drive(world, published_until(world, 1))
        fed.export("tube-a", range(1, 5), _tagged)  # row 0 retired, two new videos
        ann = drive(world, lambda a: a.catalogue_version == 2 and a.phase.value == "collecting")
        base = launcher.model(ann.model_version)
        flags = retired_flags(catalogue.retired(), 11)
        expected = content_rows_rule(catalogue.records(), calibrate=True)(
            base.array(), 2, flags.tolist()
        )
        assert np.abs(expected).max() > 0  # the drift-trained rows give the map something
        ours = launcher.rows.initial(base.array(), 2, flags.tolist())
        assert ours.tobytes() == expected.tobytes()
        for name, node in world.nodes.items():
            theirs = node.catalogue.initial_rows(base.array(), 2, flags.tolist())
            assert theirs.tobytes() == expected.tobytes(), name
            grown = round_base(ann, base, node.catalogue, initial=node.catalogue.initial_rows)
            assert grown.values[9:].tobytes() == expected.tobytes(), name
    finally:
        world.close()


class PublishingDrift(DriftTrainer):
    """A drift trainer whose instance publishes ``self.videos`` videos."""

    videos = 3

    def catalogue_export(self, instance: str) -> InstanceExport:
        return InstanceExport(instance, tuple(video(instance, k) for k in range(self.videos)))


def test_an_export_goes_out_when_a_rounds_end_is_never_seen(tmp_path: Path) -> None:
    """Rounds back to back: a node may see the next round open without ever seeing the last
    one published; its new videos still reach the catalogue (the export is sent once per
    round, at whichever of its announcements the node sees first)."""
    trainers = {name: PublishingDrift(name, rate=RATE) for name in NAMES}
    fed = catalogue_world(tmp_path, NAMES, trainers)
    world, catalogue = fed.world, fed.catalogue
    world.register_all()
    try:
        drive(world, published_until(world, 1))
        trainers["tube-a"].videos = 5  # two new videos
        for _ in range(80):
            world.launcher.advance()
            ann = world.current()
            if ann.phase.value not in ("published", "aborted"):  # a round's end never seen
                world.hand_out(ann)
            if catalogue.book.tip.rows == 11:
                break
        assert catalogue.book.tip.rows == 11, catalogue.book.tip
    finally:
        world.close()
