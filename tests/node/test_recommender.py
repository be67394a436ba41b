"""Scoring against its plaintext twin, the popular fallback, snapshot files and swaps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mpcrec.errors import DataError
from mpcrec.node.recommender import (
    ModelSnapshot,
    NotReady,
    Recommender,
    UnknownUser,
    UnknownVideo,
)


def video_uuid(i: int) -> str:
    """The UUID of video ``i`` in :func:`random_snapshot`."""
    return f"00000000-0000-4000-8000-{i:012d}"


def random_snapshot(
    n_items: int = 500, dim: int = 8, n_users: int = 30, seed: int = 0, version: str = "v1"
) -> ModelSnapshot:
    """A snapshot with random embeddings; users 1..n_users have embeddings, n_users+1..+5 not."""
    rng = np.random.default_rng(seed)
    urls = [f"https://tube{i % 3}.example/videos/watch/{i:08d}" for i in range(n_items)]
    users = {u: rng.normal(size=dim) for u in range(1, n_users + 1)}
    seen = {
        u: set(rng.choice(urls, size=20, replace=False).tolist()) for u in range(1, n_users + 6)
    }
    return ModelSnapshot.build(
        version=version,
        item_urls=urls,
        item_uuids=[video_uuid(i) for i in range(n_items)],
        item_embeddings=rng.normal(size=(n_items, dim)),
        user_embeddings=users,
        popularity=rng.random(n_items),
        local_users=range(1, n_users + 6),
        seen=seen,
    )


def plaintext_top(snapshot: ModelSnapshot, user: int, count: int) -> list[tuple[str, float]]:
    """The twin: score every video in float64, drop seen ones, sort everything."""
    row = int(np.flatnonzero(snapshot.user_ids == user)[0])
    scores = snapshot.item_embeddings.astype(np.float64) @ snapshot.user_embeddings[row]
    seen = set(snapshot.seen[user].tolist())
    ranked = sorted((i for i in range(snapshot.n_items) if i not in seen), key=lambda i: -scores[i])
    return [(snapshot.item_uuids[i], float(scores[i])) for i in ranked[:count]]


@pytest.mark.parametrize("count", [1, 10, 100])
def test_top_k_matches_the_plaintext_twin(count: int) -> None:
    snapshot = random_snapshot()
    for user in (1, 7, 30):
        got = snapshot.recommend(user, count)
        want = plaintext_top(snapshot, user, count)
        assert [v.uuid for v in got.videos] == [u for u, _ in want]
        assert [v.score for v in got.videos] == pytest.approx([s for _, s in want], abs=1e-4)
        assert got.fallback is None


def test_seen_videos_are_never_recommended() -> None:
    snapshot = random_snapshot(n_items=60)
    got = snapshot.recommend(3, 100)
    seen_urls = {snapshot.item_urls[i] for i in snapshot.seen[3].tolist()}
    assert len(got.videos) == 40  # 60 videos, 20 seen
    assert not seen_urls & {v.url for v in got.videos}


def test_user_unknown_to_the_model_gets_popular_unseen_videos() -> None:
    snapshot = random_snapshot()
    user = 33  # local, no embedding
    got = snapshot.recommend(user, 10)
    seen = set(snapshot.seen[user].tolist())
    order = [i for i in np.argsort(-snapshot.popularity).tolist() if i not in seen][:10]
    assert got.fallback == "popular"
    assert [v.uuid for v in got.videos] == [snapshot.item_uuids[i] for i in order]


def test_user_not_on_the_instance_is_refused() -> None:
    with pytest.raises(UnknownUser, match="user 999 is not a local user"):
        random_snapshot().recommend(999, 10)


def test_snapshot_file_round_trip(tmp_path: Path) -> None:
    snapshot = random_snapshot()
    path = tmp_path / "model.npz"
    snapshot.save(path)
    loaded = ModelSnapshot.load(path)
    assert loaded.item_urls == snapshot.item_urls and loaded.item_uuids == snapshot.item_uuids
    np.testing.assert_array_equal(loaded.item_embeddings, snapshot.item_embeddings)
    assert loaded.local_users == snapshot.local_users
    for user in (1, 33):
        assert loaded.recommend(user, 10) == snapshot.recommend(user, 10)


def test_unreadable_snapshot_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a-model.npz"
    path.write_bytes(b"hello")
    with pytest.raises(DataError, match="cannot read model snapshot"):
        ModelSnapshot.load(path)


def test_inconsistent_snapshot_is_refused() -> None:
    good = random_snapshot(n_items=30)
    with pytest.raises(DataError, match="9 urls for 30 items"):
        ModelSnapshot(
            version="bad",
            item_urls=good.item_urls[:9],
            item_uuids=good.item_uuids,
            item_embeddings=good.item_embeddings,
            user_ids=good.user_ids,
            user_embeddings=good.user_embeddings,
            popularity=good.popularity,
            local_users=good.local_users,
        )


def test_recommender_serves_the_latest_published_snapshot() -> None:
    recommender = Recommender()
    with pytest.raises(NotReady):
        recommender.recommend(1, 5)
    recommender.publish(random_snapshot(version="round-1"))
    assert recommender.recommend(1, 5).model_version == "round-1"
    recommender.publish(random_snapshot(seed=1, version="round-2"))
    assert recommender.recommend(1, 5).model_version == "round-2"


def test_non_finite_embeddings_are_refused() -> None:
    good = random_snapshot(n_items=30)
    broken = good.user_embeddings.copy()
    broken[0, 0] = np.nan
    with pytest.raises(DataError, match="non-finite user embeddings"):
        ModelSnapshot(
            version="nan",
            item_urls=good.item_urls,
            item_uuids=good.item_uuids,
            item_embeddings=good.item_embeddings,
            user_ids=good.user_ids,
            user_embeddings=broken,
            popularity=good.popularity,
            local_users=good.local_users,
        )


def plaintext_related(
    snapshot: ModelSnapshot, item: int, count: int, user: int | None = None
) -> list[str]:
    """The twin of related videos: float64 cosines, blended with the user's, sorted."""
    items = snapshot.item_embeddings.astype(np.float64)
    unit = items / np.linalg.norm(items, axis=1, keepdims=True)
    scores = unit @ unit[item]
    excluded = {item}
    if user is not None:
        excluded |= set(snapshot.seen.get(user, np.zeros(0, np.int64)).tolist())
        rows = np.flatnonzero(snapshot.user_ids == user)
        if len(rows):
            vector = snapshot.user_embeddings[int(rows[0])].astype(np.float64)
            scores = 0.7 * scores + 0.3 * (unit @ (vector / np.linalg.norm(vector)))
    ranked = sorted(
        (i for i in range(snapshot.n_items) if i not in excluded), key=lambda i: -scores[i]
    )
    return [snapshot.item_uuids[i] for i in ranked[:count]]


@pytest.mark.parametrize("count", [1, 10, 100])
def test_related_videos_are_the_nearest_items_by_cosine(count: int) -> None:
    snapshot = random_snapshot()
    for item in (0, 42, 499):
        got = snapshot.related(video_uuid(item), count)
        assert [v.uuid for v in got.videos] == plaintext_related(snapshot, item, count)
        assert got.user_id is None and got.fallback is None
        assert video_uuid(item) not in [v.uuid for v in got.videos]


def test_related_videos_for_a_user_blend_their_taste_and_skip_what_they_saw() -> None:
    snapshot = random_snapshot()
    for user in (3, 33):  # with an embedding, and a local user without one
        got = snapshot.related(video_uuid(7), 50, user)
        assert [v.uuid for v in got.videos] == plaintext_related(snapshot, 7, 50, user)
        seen = {snapshot.item_uuids[i] for i in snapshot.seen[user].tolist()}
        assert not seen & {v.uuid for v in got.videos}
    assert [v.uuid for v in snapshot.related(video_uuid(7), 50, 3).videos] != [
        v.uuid for v in snapshot.related(video_uuid(7), 50).videos
    ]


def test_related_videos_of_an_unknown_video_or_user_are_refused() -> None:
    snapshot = random_snapshot()
    with pytest.raises(UnknownVideo):
        snapshot.related("11111111-1111-4111-8111-111111111111", 5)
    with pytest.raises(UnknownUser):
        snapshot.related(video_uuid(1), 5, user_id=4242)
