"""Temporal leave-last-out: last = test, second last = validation, ties by row order."""

from __future__ import annotations

import numpy as np
import pytest

from mpcrec.data.interactions import Interactions
from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.errors import DataError


def table(rows: list[tuple[str, str, float]]) -> Interactions:
    users, items, times = zip(*rows, strict=True)
    return Interactions.from_columns(list(users), list(items), list(times))


def test_last_is_test_second_last_is_validation() -> None:
    data = table(
        [
            ("a", "3", 30.0),
            ("a", "1", 10.0),
            ("b", "2", 5.0),
            ("a", "2", 20.0),
            ("b", "1", 7.0),
            ("a", "4", 40.0),
            ("b", "3", 6.0),
        ]
    )
    split = leave_last_out(data)
    ids = data.item_ids
    assert [ids[i] for i in split.test_item] == ["4", "1"]
    assert [ids[i] for i in split.valid_item] == ["3", "3"]
    train = {
        (data.user_ids[u], ids[i])
        for u, i in zip(split.train.users, split.train.items, strict=True)
    }
    assert train == {("a", "1"), ("a", "2"), ("b", "2")}
    assert split.train.n_items == data.n_items


def test_ties_break_by_row_order() -> None:
    data = table([("a", "1", 5.0), ("a", "2", 5.0), ("a", "3", 5.0), ("a", "4", 1.0)])
    split = leave_last_out(data)
    assert data.item_ids[int(split.test_item[0])] == "3"
    assert data.item_ids[int(split.valid_item[0])] == "2"
    assert sorted(data.item_ids[i] for i in split.train.items) == ["1", "4"]


def test_user_with_two_events_is_refused() -> None:
    data = table(
        [("a", "1", 1.0), ("a", "2", 2.0), ("a", "3", 3.0), ("b", "1", 1.0), ("b", "2", 2.0)]
    )
    with pytest.raises(DataError, match="user 'b' has 2 interaction"):
        leave_last_out(data)


def test_split_partitions_the_events() -> None:
    rng = np.random.default_rng(0)
    n = 300
    data = Interactions.from_columns(
        [str(u) for u in rng.integers(0, 20, n)],
        [str(i) for i in rng.permutation(n)],
        rng.integers(0, 50, n).astype(float),
    )
    split = leave_last_out(data)
    assert len(split.train) + 2 * data.n_users == len(data)
    assert (split.train.counts_per_user() == data.counts_per_user() - 2).all()


def test_whole_past_keeps_the_validation_event_in_the_history() -> None:
    data = table(
        [
            ("a", "3", 30.0),
            ("a", "1", 10.0),
            ("a", "2", 20.0),
            ("a", "4", 40.0),
            ("b", "1", 1.0),
            ("b", "2", 2.0),
            ("b", "3", 3.0),
        ]
    )
    past, held = whole_past(data), leave_last_out(data)
    assert past.valid_in_train and not held.valid_in_train
    assert (past.test_item == held.test_item).all() and (past.valid_item == held.valid_item).all()
    ids = data.item_ids
    train = {
        (data.user_ids[u], ids[i]) for u, i in zip(past.train.users, past.train.items, strict=True)
    }
    assert train == {("a", "1"), ("a", "2"), ("a", "3"), ("b", "1"), ("b", "2")}
    assert (past.train.counts_per_user() == data.counts_per_user() - 1).all()
