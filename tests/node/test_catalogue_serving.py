"""Retired catalogue rows are never recommended."""

from __future__ import annotations

import numpy as np

from mpcrec.data.catalogue import VideoRecord
from mpcrec.data.catalogue_index import CatalogueIndex
from mpcrec.data.catalogue_merge import CatalogueBook, InstanceExport
from mpcrec.node.catalogue_serving import retired_urls, without_retired
from mpcrec.node.recommender import ModelSnapshot


def test_a_retired_video_is_never_recommended_even_when_it_scores_best() -> None:
    urls = [f"https://a/videos/watch/{k}" for k in range(4)]
    book = CatalogueBook()
    index = CatalogueIndex()
    for listed in (urls, [u for u in urls if not u.endswith("/2")]):
        diff = book.merge([InstanceExport("a", tuple(VideoRecord(u) for u in listed))])
        assert diff is not None
        book.apply(diff)
        index.apply(diff)
    items = np.array([[0.1, 0], [0.2, 0], [9.0, 0], [0.3, 0]])  # row 2 scores best
    snapshot = ModelSnapshot.build(
        version="v1", item_urls=urls, item_uuids=[""] * 4, item_embeddings=items,
        user_embeddings={7: [1.0, 0.0]}, popularity=[0, 0, 5, 0], local_users=[7],
    )  # fmt: skip
    assert snapshot.recommend(7, 1).videos[0].url == urls[2]  # before: the best is served
    served = without_retired(snapshot, retired_urls(index))
    assert retired_urls(index) == [urls[2]]
    got = [v.url for v in served.recommend(7, 4).videos]
    assert urls[2] not in got and got[0] == urls[3]
    assert without_retired(snapshot, []) is snapshot
