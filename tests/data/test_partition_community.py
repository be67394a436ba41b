"""Community partitions (``bench personalisation --partition``): Zipf sizes, whole users,
communities kept together, taste clusters from training items only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mpcrec.bench.personalisation_partitions import (
    age_band,
    community_labels,
    community_shares,
    make_partition,
)
from mpcrec.data.interactions import Interactions, ItemMeta
from mpcrec.data.partition import by_community, taste_labels, zipf_shares, zipf_sizes
from mpcrec.errors import DataError

GENRES = ("Action", "Comedy", "Drama", "Horror")


def table(genres: list[list[int]], seed: int = 7) -> Interactions:
    """One user per list: their events in time order, each an item of that genre."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for u, row in enumerate(genres):
        for t, g in enumerate(row):
            users.append(f"u{u}")
            items.append(f"{g}-{rng.integers(10)}")
            times.append(float(t))
    meta = {
        f"{g}-{i}": ItemMeta(f"{g}{i}", (GENRES[g],), 1990.0) for g in range(4) for i in range(10)
    }
    return Interactions.from_columns(users, items, times, item_meta=meta)


def world(n_users: int) -> Interactions:
    """Users with 8 events in their own genre (user ``u``: genre ``u % 4``)."""
    return table([[u % len(GENRES)] * 8 for u in range(n_users)])


def test_zipf_sizes_are_exact_and_follow_the_shares() -> None:
    sizes = zipf_sizes(943, 20)
    assert sizes.sum() == 943 and sizes.min() >= 1
    assert (np.diff(sizes) <= 0).all()
    assert np.abs(sizes - zipf_shares(20) * 943).max() < 1.0
    assert zipf_sizes(20, 20).tolist() == [1] * 20
    with pytest.raises(DataError):
        zipf_sizes(5, 6)


def test_by_community_is_deterministic_zipf_sized_and_keeps_communities_together() -> None:
    labels = tuple(f"c{u % 4}" for u in range(400))
    first = by_community(labels, 10, seed=3)
    assert (first.user_instance == by_community(labels, 10, seed=3).user_instance).all()
    assert not (first.user_instance == by_community(labels, 10, seed=4).user_instance).all()
    assert first.how == "community"
    assert first.sizes().tolist() == zipf_sizes(400, 10).tolist()
    # every user in exactly one instance
    members = np.concatenate([first.members(k) for k in range(10)])
    assert sorted(members.tolist()) == list(range(400))
    # contiguous cuts: an instance spans at most two of the four communities (a random
    # deal of 400 users would mix all four into every instance of >= 20 users)
    spans = [len({labels[u] for u in first.members(k)}) for k in range(10)]
    assert max(spans) <= 2
    assert sum(s == 1 for s in spans) >= 6
    with pytest.raises(DataError, match="empty community"):
        by_community(("a", " "), 1, seed=0)


def test_taste_clusters_find_the_genres() -> None:
    data = world(80)
    labels = taste_labels(data, 4, seed=0)
    genre = [int(uid[1:]) % 4 for uid in data.user_ids]
    by_genre = {g: {labels[u] for u in range(80) if genre[u] == g} for g in range(4)}
    assert all(len(c) == 1 for c in by_genre.values())
    assert len(set().union(*by_genre.values())) == 4
    assert labels == taste_labels(data, 4, seed=0)
    with pytest.raises(DataError):
        taste_labels(data, 81, seed=0)


def mixed_world(n_users: int, held_out: str, trained: int = 5) -> Interactions:
    """Users with ``trained`` events of random genres, then their last three: of random
    genres too (``"random"``) or all horror (``"horror"``)."""
    rng = np.random.default_rng(11)
    rows = [rng.integers(4, size=trained + 3).tolist() for _ in range(n_users)]
    if held_out == "horror":
        rows = [[*row[:trained], 3, 3, 3] for row in rows]
    return table(rows)


def test_the_taste_partition_reads_no_held_out_item() -> None:
    """Moving every user's last three items (the replay's, the validation and the test
    item) to another genre leaves the taste communities and the partition as they were."""
    plain, moved = mixed_world(200, "random"), mixed_world(200, "horror")
    assert community_labels("taste", plain, 0) == community_labels("taste", moved, 0)
    a, b = (make_partition("taste", d, 12, 0).user_instance for d in (plain, moved))
    assert (a == b).all()
    # and the check has power: the clusters do move with the training items
    assert community_labels("taste", plain, 0) != community_labels(
        "taste", mixed_world(200, "random", trained=6), 0
    )


def user_file(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "ml-100k.user"
    header = "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_occupation_and_age_partitions_from_the_user_file(tmp_path: Path) -> None:
    data = world(60)
    jobs = ("student", "artist", "retired")
    rows = [f"u{u}\t{15 + u}\tF\t{jobs[u % 3]}\t00000" for u in range(60)]
    path = user_file(tmp_path, rows)
    occupation = make_partition("occupation", data, 6, 1, users=path)
    labels = community_labels("occupation", data, 1, path)
    assert occupation.sizes().tolist() == zipf_sizes(60, 6).tolist()
    assert sum(s == 1.0 for s in community_shares(labels, occupation)) >= 4
    ages = community_labels("age", data, 1, path)
    assert {ages[data.user_ids.index("u0")], ages[data.user_ids.index("u59")]} == {
        "band-0",
        "band-6",
    }
    assert [age_band(a) for a in (17, 18, 24, 25, 55, 56)] == [
        "band-0",
        "band-1",
        "band-1",
        "band-2",
        "band-5",
        "band-6",
    ]


def test_a_bad_user_file_or_partition_name_is_a_clear_error(tmp_path: Path) -> None:
    data = world(8)
    with pytest.raises(DataError, match="missing from the user file"):
        community_labels("age", data, 0, user_file(tmp_path, ["u0\t20\tF\tartist\t1"]))
    with pytest.raises(DataError, match="expected user, age"):
        community_labels("age", data, 0, user_file(tmp_path, ["u0\told\tF\tartist\t1"]))
    with pytest.raises(DataError, match="--partition"):
        community_labels("planet", data, 0)
