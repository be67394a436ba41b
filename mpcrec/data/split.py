"""Temporal leave-last-out: every user's last item is the test, the one before validation.

Events are ordered per user by timestamp, ties kept in row order (a stable sort), so the
split does not depend on anything but the table. Two views of the same held-out items:

:func:`leave_last_out`
    ``train`` holds every event but the last two; the validation item tunes
    hyper-parameters; at test time it is excluded from the ranking like the training items
    (see :mod:`mpcrec.model.metrics`) but no model has seen it.
:func:`whole_past`
    The protocol of sequential recommendation (Kang & McAuley, ICDM 2018): at test time a
    model knows the user's whole history up to the test event, validation item included,
    so ``train`` holds every event but the test one. Settings are still chosen on the
    :func:`leave_last_out` view's validation item; this view has no validation stage.
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
    valid_in_train:
        True for the :func:`whole_past` view: ``train`` includes the validation events,
        so only the test stage can be evaluated.
    """

    train: Interactions
    valid_item: IntArray
    test_item: IntArray
    valid_in_train: bool = False

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
    valid_rows, test_rows = _held_out_rows(data)
    return _split(data, (valid_rows, test_rows), valid_rows, test_rows, valid_in_train=False)


def whole_past(data: Interactions) -> Split:
    """Like :func:`leave_last_out`, but ``train`` keeps the validation events too.

    The view for testing under the whole-past protocol: every event before each user's
    test event is history. ``valid_item`` and ``test_item`` are those of
    :func:`leave_last_out`.

    Raises
    ------
    DataError
        If a user has fewer than :data:`MIN_EVENTS` events.
    """
    valid_rows, test_rows = _held_out_rows(data)
    return _split(data, (test_rows,), valid_rows, test_rows, valid_in_train=True)


def _held_out_rows(data: Interactions) -> tuple[IntArray, IntArray]:
    """Row of every user's validation (second last) and test (last) event."""
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
    return order[ends - 2], order[ends - 1]


def _split(
    data: Interactions,
    dropped: tuple[IntArray, ...],
    valid_rows: IntArray,
    test_rows: IntArray,
    *,
    valid_in_train: bool,
) -> Split:
    """The split training on every row of ``data`` outside ``dropped``."""
    keep = np.ones(len(data), dtype=bool)
    for rows in dropped:
        keep[rows] = False
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
    return Split(
        train=train,
        valid_item=data.items[valid_rows],
        test_item=data.items[test_rows],
        valid_in_train=valid_in_train,
    )
