"""``mpcrec demo --new-videos``'s check of the served lists (mpcrec.demo_catalogue): a
snapshot serving a retired video is caught; the daemon's hiding of retired rows passes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from launch.catalogue import LauncherCatalogue
from mpcrec.data.catalogue import VideoRecord
from mpcrec.data.catalogue_merge import InstanceExport
from mpcrec.demo_catalogue import ServedLists
from mpcrec.node.catalogue_serving import without_retired
from mpcrec.node.recommender import ModelSnapshot


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    instances: int = 1
    seed: int = 0
    new_videos: bool = True


@dataclass(frozen=True)
class Run:
    settings: Settings

    @property
    def db(self) -> Path:
        return self.settings.state_dir / "launcher" / "launcher.sqlite"

    @property
    def names(self) -> list[str]:
        return ["ml-00"]


def url(k: int) -> str:
    return f"https://ml-00.example/videos/watch/{k}"


def test_a_retired_video_in_a_served_list_is_caught(tmp_path: Path) -> None:
    catalogue = LauncherCatalogue(tmp_path / "launcher" / "catalogue", None)
    catalogue.submit(InstanceExport("ml-00", tuple(VideoRecord(url(k)) for k in range(20))))
    catalogue.publish(1)
    kept = tuple(VideoRecord(url(k)) for k in range(24) if k != 0)  # 4 new, video 0 retired
    catalogue.submit(InstanceExport("ml-00", kept))
    catalogue.publish(2)
    # every user's best match is video 0 (retired), then the new videos 20..23
    items = np.full((24, 2), -1.0)
    items[0] = [10.0, 10.0]
    items[20:] = [5.0, 5.0]
    snapshot = ModelSnapshot.build(
        version="v7",
        item_urls=[url(k) for k in range(24)],
        item_uuids=[str(k) for k in range(24)],
        item_embeddings=items,
        user_embeddings={1: [1.0, 1.0], 2: [0.5, 1.0]},
        popularity=np.ones(24),
        local_users=[1, 2],
    )
    served = ServedLists(Run(Settings(tmp_path)))  # type: ignore[arg-type]
    broken = served.check("ml-00", snapshot)
    assert broken["retired_served"] == 2 and broken["lists"] == 2
    hidden = served.check("ml-00", without_retired(snapshot, [url(0)]))
    assert hidden["retired_served"] == 0
    assert hidden["lists_with_new_videos"] == {2: 2} and hidden["model"] == 7
