"""A small synthetic world with structure MF can find and popularity cannot."""

from __future__ import annotations

import numpy as np
import pytest

from mpcrec.data.interactions import Interactions
from mpcrec.data.split import Split, leave_last_out


def clustered(
    n_users: int = 120, n_items: int = 60, n_clusters: int = 4, per_user: int = 10, seed: int = 0
) -> Interactions:
    """Users of cluster c watch items of cluster c only; every item equally popular."""
    rng = np.random.default_rng(seed)
    users: list[str] = []
    items: list[str] = []
    times: list[float] = []
    size = n_items // n_clusters
    for u in range(n_users):
        cluster = u % n_clusters
        picks = rng.choice(size, per_user, replace=False) + cluster * size
        users += [f"u{u}"] * per_user
        items += [f"i{i}" for i in picks]
        times += list(rng.random(per_user) * 1000)
    return Interactions.from_columns(
        users, items, times, catalogue=[f"i{i}" for i in range(n_items)]
    )


@pytest.fixture(scope="session")
def world() -> Split:
    """The clustered world, split leave-last-out."""
    return leave_last_out(clustered())
