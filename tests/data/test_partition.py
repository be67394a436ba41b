"""Partitions: by label, non-IID by attribute, by hash; seeded, Zipf-skewed, never empty."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mpcrec.data.interactions import Interactions
from mpcrec.data.partition import partition_users
from mpcrec.errors import DataError


def population(n_users: int, *, zips: bool) -> Interactions:
    users = [f"u{u}" for u in range(n_users) for _ in range(3)]
    items = [str(k) for k in range(3)] * n_users
    rng = np.random.default_rng(1)
    regions = [f"{rng.integers(10, 60)}{rng.integers(100, 999)}" for _ in range(n_users)]
    data = Interactions.from_columns(
        users,
        items,
        np.arange(len(users), dtype=float),
        user_attribute={f"u{u}": regions[u] for u in range(n_users)} if zips else None,
    )
    return data


@pytest.mark.parametrize("zips", [True, False])
def test_deterministic_and_skewed(zips: bool) -> None:
    data = population(600, zips=zips)
    first = partition_users(data, 10, seed=3)
    again = partition_users(data, 10, seed=3)
    other = partition_users(data, 10, seed=4)
    assert first.how == ("attribute" if zips else "hash")
    assert (first.user_instance == again.user_instance).all()
    assert not (first.user_instance == other.user_instance).all()
    sizes = np.sort(first.sizes())[::-1]
    assert sizes.sum() == 600 and sizes.min() >= 1
    assert sizes[0] >= 4 * sizes[-1]  # Zipf: about 10x between the largest and the smallest


def test_attribute_partition_keeps_regions_together() -> None:
    data = population(600, zips=True)
    assert data.user_attribute is not None
    partition = partition_users(data, 10, seed=0)
    region_instances: dict[str, set[int]] = {}
    for user, code in enumerate(data.user_attribute):
        region_instances.setdefault(code[:2], set()).add(int(partition.user_instance[user]))
    assert all(len(instances) == 1 for instances in region_instances.values())


def test_label_partition_wins() -> None:
    data = population(6, zips=True)
    labelled = replace(data, user_instance=("b", "a", "b", "c", "a", "b"))
    partition = partition_users(labelled, 99, seed=0)
    assert partition.names == ("a", "b", "c")
    assert partition.user_instance.tolist() == [1, 0, 1, 2, 0, 1]
    assert partition.members(1).tolist() == [0, 2, 5]


def test_empty_instance_is_refused() -> None:
    with pytest.raises(DataError, match="would be empty"):
        partition_users(population(5, zips=False), 6, seed=0)
    with pytest.raises(DataError, match="would hold no user"):
        partition_users(population(12, zips=False), 10, seed=0)
