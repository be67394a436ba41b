"""The cold-start protocol: the newest items lose every training interaction.

:func:`cold_start` takes the ``fraction`` most recently published items (publication
time from :class:`~mpcrec.data.interactions.ItemMeta`; MovieLens: release year, ties broken
by the larger item index first, MovieLens ids growing roughly as titles were added) and
returns two views in which no training event touches them:

``test``
    :func:`~mpcrec.data.split.whole_past` minus every event of a new item;
    evaluate on the users whose test item is new.
``tuning``
    :func:`~mpcrec.data.split.leave_last_out` minus the same events; tune on the users
    whose validation item is new.

Each view comes with its ``history``: the same split before the removal, whose training
events are everything the user had seen (the ranking excludes them, new items included).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mpcrec.data.interactions import IntArray, Interactions
from mpcrec.data.split import Split, leave_last_out, whole_past
from mpcrec.errors import DataError


@dataclass(frozen=True)
class ColdStart:
    """The cold-start views of one table.

    Attributes
    ----------
    new_items:
        Indices of the held-out (new) items, ascending.
    test, tuning:
        The training views without any event of a new item (see the module docstring).
    test_history, tuning_history:
        The same views with those events: what each user had seen.
    """

    new_items: IntArray
    test: Split
    tuning: Split
    test_history: Split
    tuning_history: Split

    def is_new(self, items: IntArray) -> np.ndarray:
        """True where an item is a new one."""
        return np.isin(items, self.new_items)


def newest_items(data: Interactions, fraction: float) -> IntArray:
    """The ``ceil(fraction * n_items)`` most recently published items, ascending."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), not {fraction}")
    if data.item_meta is None:
        raise DataError(
            "the cold-start protocol needs item metadata (publication times)",
            hint="use MovieLens 100k, whose items have release years",
        )
    published = np.array([m.published for m in data.item_meta], dtype=np.float64)
    order = np.lexsort((-np.arange(data.n_items), -published))
    count = int(np.ceil(fraction * data.n_items))
    return np.sort(order[:count])


def cold_start(data: Interactions, fraction: float = 0.2) -> ColdStart:
    """The cold-start views of ``data`` (see the module docstring)."""
    new_items = newest_items(data, fraction)
    test_history, tuning_history = whole_past(data), leave_last_out(data)
    return ColdStart(
        new_items=new_items,
        test=without_items(test_history, new_items),
        tuning=without_items(tuning_history, new_items),
        test_history=test_history,
        tuning_history=tuning_history,
    )


def without_items(split: Split, items: IntArray) -> Split:
    """``split`` with every training event of ``items`` removed (held-out items kept)."""
    train = split.train
    keep = np.flatnonzero(~np.isin(train.items, items))
    return replace(
        split,
        train=replace(
            train,
            users=train.users[keep],
            items=train.items[keep],
            timestamps=train.timestamps[keep],
            weights=train.weights[keep],
        ),
    )


def known_catalogue(split: Split, known: IntArray) -> Split:
    """``split`` with its catalogue cut to the items ``known`` (re-indexed ``0..len-1``).

    For training only: the model of a federation that has not yet heard of the other items
    (no row, never drawn as a negative). Every training event must be of a known item;
    held-out items outside the catalogue become ``-1``, so this view cannot be evaluated.

    Raises
    ------
    ValueError
        If a training event is of an item outside ``known``.
    """
    known = np.sort(np.asarray(known, dtype=np.int64))
    index = np.full(split.n_items, -1, dtype=np.int64)
    index[known] = np.arange(known.shape[0])
    train = split.train
    if (index[train.items] < 0).any():
        raise ValueError("a training event is of an item outside the known catalogue")
    meta = None if train.item_meta is None else tuple(train.item_meta[i] for i in known)
    return replace(
        split,
        train=replace(
            train,
            items=index[train.items],
            item_ids=tuple(train.item_ids[i] for i in known),
            item_meta=meta,
        ),
        valid_item=index[split.valid_item],
        test_item=index[split.test_item],
    )
