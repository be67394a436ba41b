"""``mpcrec bench related``: its scorer ranks what the node serves for ``videoId=``."""

from __future__ import annotations

import numpy as np

from mpcrec.bench.related import related_scorer
from mpcrec.data.split import leave_last_out
from mpcrec.model.baselines import last_items
from mpcrec.node.recommender import ModelSnapshot
from tests.model.conftest import clustered


def test_the_benchmarked_score_is_the_served_related_list() -> None:
    # Prepare
    data = clustered(n_users=30, n_items=25, per_user=5)
    split = leave_last_out(data)
    item_emb = np.random.default_rng(1).normal(size=(split.n_items, 6))
    uuids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(split.n_items)]
    snapshot = ModelSnapshot.build(
        version="v",
        item_urls=[f"https://t.example/v/{i}" for i in range(split.n_items)],
        item_uuids=uuids,
        item_embeddings=item_emb,
        user_embeddings={},
        popularity=np.zeros(split.n_items),
        local_users=(),
    )
    users = np.arange(split.n_users, dtype=np.int64)
    # Execute
    scores = related_scorer(split, item_emb)(users)
    # Assert
    current = last_items(split)
    for user in users.tolist():
        ranked = [
            i for i in np.argsort(-scores[user], kind="stable").tolist() if i != current[user]
        ]
        served = snapshot.related(uuids[current[user]], split.n_items - 1).videos
        assert [v.uuid for v in served][:10] == [uuids[i] for i in ranked][:10]
