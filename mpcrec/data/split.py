"""Temporal leave-last-out: every user's last item is the test, the one before validation.

Events are ordered per user by timestamp, ties kept in row order (a stable sort), so the
split does not depend on anything but the table. Models train on ``train`` only; the
validation item tunes hyper-parameters; at test time the validation item is excluded from
the ranking like the training items (see :mod:`mpcrec.model.metrics`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mpcrec.data.interactions import IntArray, Interactions
from mpcrec.errors import DataError

MIN_EVENTS = 3


@dataclass(frozen=True)
class Split:
    """A leave-last-out split.

    Attributes
    ----------
    train:
        The training events (same catalogue and users as the full table).
    valid_item, test_item:
        Held-out item of every user (length ``n_users``).
    """

    train: Interactions
    valid_item: IntArray
    test_item: IntArray

    @property
    def n_users(self) -> int:
        """Number of users."""
        return self.train.n_users

    @property
    def n_items(self) -> int:
        """Number of items in the catalogue."""
        return self.train.n_items


def leave_last_out(data: Interactions) -> Split:
    """Split ``data`` temporally: last event per user = test, second last = validation.

    Raises
    ------
    DataError
        If a user has fewer than :data:`MIN_EVENTS` events.
    """
    counts = data.counts_per_user()
    if (counts < MIN_EVENTS).any():
        user = int(np.flatnonzero(counts < MIN_EVENTS)[0])
        raise DataError(
            f"user {data.user_ids[user]!r} has {int(counts[user])} interaction(s), "
            f"fewer than {MIN_EVENTS}",
            hint="leave-last-out needs a training, a validation and a test item per user",
        )
    # stable: by user, then time, then original row order
    order = np.lexsort((np.arange(len(data)), data.timestamps, data.users))
    ends = np.cumsum(counts)  # one past each user's last event in `order`
    test_rows = order[ends - 1]
    valid_rows = order[ends - 2]
    keep = np.ones(len(data), dtype=bool)
    keep[test_rows] = False
    keep[valid_rows] = False
    rows = np.sort(np.flatnonzero(keep))
    train = Interactions(
        users=data.users[rows],
        items=data.items[rows],
        timestamps=data.timestamps[rows],
        weights=data.weights[rows],
        user_ids=data.user_ids,
        item_ids=data.item_ids,
        user_instance=data.user_instance,
        user_attribute=data.user_attribute,
        item_meta=data.item_meta,
    )
    return Split(train=train, valid_item=data.items[valid_rows], test_item=data.items[test_rows])
