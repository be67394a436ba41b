"""The cold-start views: the newest items keep no training event, the held-out items stay."""

from __future__ import annotations

import numpy as np
import pytest

from mpcrec.data.interactions import Interactions, ItemMeta
from mpcrec.data.split_cold import cold_start, known_catalogue, newest_items
from mpcrec.errors import DataError


def _table() -> Interactions:
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 20
    users, items, times = [], [], []
    for u in range(n_users):
        for k, i in enumerate(rng.choice(n_items, 8, replace=False)):
            users.append(f"u{u}")
            items.append(f"i{i}")
            times.append(float(u * 100 + k))
    # item k published in year 1990 + k // 2: pairs tie, the larger index counts as newer
    meta = {
        f"i{i}": ItemMeta(title=f"t{i}", tags=("g",), published=1990.0 + i // 2)
        for i in range(n_items)
    }
    return Interactions.from_columns(
        users, items, times, catalogue=[f"i{i}" for i in range(n_items)], item_meta=meta
    )


def test_newest_items_by_publication_then_index() -> None:
    data = _table()
    newest = newest_items(data, 0.15)  # ceil(0.15 * 20) = 3
    assert [data.item_ids[i] for i in newest] == ["i17", "i18", "i19"]
    with pytest.raises(ValueError, match="fraction"):
        newest_items(data, 1.0)


def test_no_training_event_of_a_new_item_remains() -> None:
    data = _table()
    cold = cold_start(data, 0.25)
    for view, history in ((cold.test, cold.test_history), (cold.tuning, cold.tuning_history)):
        assert not cold.is_new(view.train.items).any()
        removed = cold.is_new(history.train.items)
        assert removed.any()  # the history still knows what the users had seen
        assert len(view.train) == len(history.train) - int(removed.sum())
        np.testing.assert_array_equal(view.test_item, history.test_item)
        np.testing.assert_array_equal(view.valid_item, history.valid_item)
        # every other event is kept as it was
        kept = ~removed
        np.testing.assert_array_equal(view.train.users, history.train.users[kept])
        np.testing.assert_array_equal(view.train.items, history.train.items[kept])
    assert cold.test.valid_in_train and not cold.tuning.valid_in_train


def test_cold_start_needs_publication_times() -> None:
    data = _table()
    bare = Interactions.from_columns(
        [data.user_ids[u] for u in data.users],
        [data.item_ids[i] for i in data.items],
        list(data.timestamps),
    )
    with pytest.raises(DataError, match="metadata"):
        cold_start(bare)


def test_known_catalogue_reindexes_the_training_events() -> None:
    data = _table()
    cold = cold_start(data, 0.25)
    known = np.setdiff1d(np.arange(data.n_items), cold.new_items)
    view = known_catalogue(cold.test, known)
    assert view.n_items == known.shape[0]
    np.testing.assert_array_equal(known[view.train.items], cold.test.train.items)
    assert view.train.item_meta is not None and data.item_meta is not None
    assert view.train.item_meta[0] == data.item_meta[known[0]]
    assert (view.test_item[cold.is_new(cold.test.test_item)] == -1).all()
    with pytest.raises(ValueError, match="outside"):
        known_catalogue(cold.test_history, known)
