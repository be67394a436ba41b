"""A model that grows with the catalogue: new rows' initial values, retired rows frozen.

Row ``k`` of the model is row ``k`` of the catalogue (:mod:`mpcrec.data.catalogue`). When a
round's catalogue version has more rows than its base model, the base is padded with the new
rows *before* the round, by the launcher and by every node with the same function
(:func:`grow_rows`), so every party starts from the same matrix. The new rows' values come
from an :class:`InitialRows` rule, a pure function of public data (the base model and the
new rows' public metadata): :func:`zero_rows` by default (a new video scores its item bias,
0, until trained: BPR's gradient moves it from its first positive event), or
:func:`mean_rows` (the mean of the live rows: a new video starts as the average video).
A content embedding computed from the new videos' public metadata is such a rule too: it
only has to be deterministic so that the launcher and the nodes agree to the bit.

Retired rows are frozen: :func:`freeze_retired` zeroes their part of an update before it is
clipped and sealed, so nothing trains them, and the recommender never serves them
(:mod:`mpcrec.node.catalogue_serving`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from mpcrec.errors import ConfigError

Matrix = npt.NDArray[np.float64]


class InitialRows(Protocol):
    """The initial values of rows ``first .. first + count - 1`` of a model grown from ``base``."""

    def __call__(self, base: Matrix, count: int, retired: Sequence[bool]) -> Matrix: ...


def zero_rows(base: Matrix, count: int, retired: Sequence[bool]) -> Matrix:
    """New rows start at zero (the default)."""
    return np.zeros((count, base.shape[1]), np.float64)


def mean_rows(base: Matrix, count: int, retired: Sequence[bool]) -> Matrix:
    """New rows start at the mean of the base's live (not retired) rows (zero if none)."""
    live = ~np.asarray(retired[: base.shape[0]], np.bool_) if len(retired) else None
    rows = base if live is None else base[live]
    mean = rows.mean(axis=0) if len(rows) else np.zeros(base.shape[1])
    return np.tile(mean, (count, 1)).astype(np.float64)


def grow_rows(
    base: Matrix, rows: int, *, retired: Sequence[bool] = (), initial: InitialRows = zero_rows
) -> Matrix:
    """``base`` with rows appended up to ``rows`` (``initial`` gives their values).

    Raises
    ------
    ConfigError
        If ``rows`` is below the base's row count (rows are never removed).
    """
    have = base.shape[0]
    if rows < have:
        raise ConfigError(
            f"a catalogue of {rows} rows cannot describe a model of {have}",
            hint="the model's rows are the catalogue's; rows are never removed",
        )
    if rows == have:
        return base
    extra = initial(base, rows - have, retired)
    if extra.shape != (rows - have, base.shape[1]) or not np.isfinite(extra).all():
        raise ConfigError(
            f"initial rows of shape {extra.shape}, expected {(rows - have, base.shape[1])}"
        )
    return np.vstack([base, extra.astype(np.float64)])


def freeze_retired(update: Matrix, retired: Sequence[bool]) -> Matrix:
    """``update`` with every retired row zeroed (a copy)."""
    frozen = np.array(update, np.float64, copy=True)
    flags = np.asarray(retired, np.bool_)
    if len(flags) != frozen.shape[0]:
        raise ConfigError(f"{len(flags)} retired flags for an update of {frozen.shape[0]} rows")
    frozen[flags] = 0.0
    return frozen
