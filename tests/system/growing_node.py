"""``python -m tests.system.growing_node --config node.yaml``: the real node command
(:func:`mpcrec.cli.node.run`) whose instance publishes videos.

The node's trainer is the drift trainer of the configuration (``update = rate * (target -
model)``, of whatever row count the round has) with a catalogue export: the instance's
public videos are the lines of ``STATE_DIR/videos.txt``, read at each export (after each
round ends), so a test appends a line and the next round's catalogue version has the row.
No production code is modified: the daemon's ``trainer_from_config`` is replaced.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import mpcrec.node.daemon
from mpcrec.data.catalogue import VideoRecord
from mpcrec.data.catalogue_merge import InstanceExport
from mpcrec.node.config import NodeConfig
from mpcrec.node.from_config import trainer_from_config
from mpcrec.node.trainer import DriftTrainer, Trainer

VIDEOS = "videos.txt"


@dataclass
class PublishingTrainer(DriftTrainer):
    """The drift trainer, and an export of the videos listed in ``videos``."""

    videos: Path = Path(VIDEOS)

    def catalogue_export(self, instance: str) -> InstanceExport | None:
        """This instance's public videos: the lines of ``videos`` (none: no export)."""
        if not self.videos.exists():
            return None
        urls = [line.strip() for line in self.videos.read_text().splitlines() if line.strip()]
        return InstanceExport(instance, tuple(VideoRecord(url) for url in urls))


def publishing_trainer(config: NodeConfig) -> Trainer:
    """The configured drift trainer, exporting ``STATE_DIR/videos.txt``."""
    drift = trainer_from_config(config)
    assert isinstance(drift, DriftTrainer)
    return PublishingTrainer(
        drift.instance_id,
        rate=drift.rate,
        weight=drift.weight,
        scale=drift.scale,
        videos=config.state_dir / VIDEOS,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the node command with the publishing trainer."""
    from mpcrec.cli import node as node_command

    parser = argparse.ArgumentParser(prog="growing_node", description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    mpcrec.node.daemon.trainer_from_config = publishing_trainer  # type: ignore[assignment]
    return node_command.run(args)


if __name__ == "__main__":
    sys.exit(main())
