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
    assert hidden["new_videos_listed"] == {2: [url(k) for k in range(20, 24)]}


def served_row(model: int, listed: list[str]) -> dict[str, object]:
    """A ServedLists.check line for version 2 (the fields the report reads)."""
    return {
        "node": "ml-00",
        "model": model,
        "lists_with_new_videos": {2: len(listed)},
        "new_videos_listed": {2: listed},
    }


def test_in_recommendations_within_one_round_means_from_the_first_model_with_its_rows() -> None:
    from mpcrec.demo_catalogue import _version_row

    version = {"version": 2, "rows": 24, "new": [url(k) for k in range(20, 24)], "retired": []}
    model_rows = {1: (1, 20), 2: (2, 20), 3: (3, 24), 4: (4, 24)}  # model 3: the first with them
    late = _version_row(version, {}, {}, model_rows, [served_row(3, []), served_row(4, [url(20)])])
    assert late["first_published_model_with_its_rows"] == 3
    assert late["first_served_model_recommending_a_new_video"] == 4
    assert late["recommended_from_first_model"] is False
    assert late["first_model_snapshots_checked"] == 1 and late["new_videos_ever_listed"] == 1
    served = [served_row(3, [url(21), url(22)]), served_row(3, [url(22)]), served_row(4, [])]
    on_time = _version_row(version, {}, {}, model_rows, served)
    assert on_time["recommended_from_first_model"] is True
    assert on_time["first_model_lists_with_a_new_video"] == 3  # 2 + 1 lists
    assert on_time["first_model_new_videos_listed"] == 2  # videos 21 and 22
