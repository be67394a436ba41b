"""A round's model when the catalogue grew: its row count, its spec, its base.

Row ``k`` of the model is row ``k`` of the catalogue (docs/catalogue.md). A round that names
a catalogue version of ``R`` rows runs on a model of ``R`` rows: the base (the published
model the round starts from) is padded with :func:`~mpcrec.model.catalogue_rows.grow_rows`
before the round, by the launcher and by every node with the same public rule, so they all
hold the same matrix to the bit; the next published model has ``R`` rows. A round naming no
version keeps the base's rows (the spec's ``n_items`` at the start).

Retired rows do not move: contributors zero them in their update
(:func:`~mpcrec.model.catalogue_rows.freeze_retired`) and the members put the base's values
back into the revealed model (:func:`keep_retired`), so the noise drawn for them is dropped
(post-processing of a differentially private output, it costs nothing).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from mpcrec.federation.spec import FederationSpec
from mpcrec.model.catalogue_rows import InitialRows, grow_rows, zero_rows

Matrix = npt.NDArray[np.float64]


def round_rows(base_rows: int, catalogue_rows: int) -> int:
    """The round's model rows: the catalogue version's (``0``: none named, the base's).

    Never fewer than the base's (rows are never removed): a base with more rows than the
    version has rows without provenance, which nodes refuse (``catalogue-unverified``) and
    the auditor names (rule ``catalogue``)."""
    return max(base_rows, catalogue_rows)


def round_spec(spec: FederationSpec, rows: int) -> FederationSpec:
    """``spec`` for a model of ``rows`` rows (every size check of the round uses it)."""
    return spec if rows == spec.n_items else dataclasses.replace(spec, n_items=rows)


def retired_flags(
    retired: Sequence[bool] | npt.NDArray[np.bool_], rows: int
) -> npt.NDArray[np.bool_]:
    """The first ``rows`` retired flags (``False`` beyond what is known), as a bool array."""
    flags = np.zeros(rows, np.bool_)
    known = np.asarray(retired, np.bool_)[:rows]
    flags[: len(known)] = known
    return flags


def grow_base(
    base: Matrix,
    rows: int,
    retired: npt.NDArray[np.bool_],
    initial: InitialRows = zero_rows,
) -> Matrix:
    """The round's base: ``base`` grown to ``rows`` rows (``initial`` gives the new ones)."""
    return grow_rows(base, rows, retired=[bool(f) for f in retired], initial=initial)


def grow_previous(previous: Matrix | None, grown: Matrix) -> Matrix | None:
    """The model before the base, padded with the grown base's new rows (their velocity is
    zero: a new row moves only by the round's aggregate)."""
    if previous is None or previous.shape[0] >= grown.shape[0]:
        return previous
    return np.vstack([previous, grown[previous.shape[0] :]])


def keep_retired(model: Matrix, grown: Matrix, retired: npt.NDArray[np.bool_]) -> Matrix:
    """``model`` with every retired row set back to its value in the round's base."""
    if not retired.any():
        return model
    kept = np.array(model, np.float64, copy=True)
    kept[retired] = grown[retired]
    return kept


def retired_moved(model: Matrix, grown: Matrix, retired: npt.NDArray[np.bool_]) -> list[int]:
    """The retired rows whose values in ``model`` differ from the round's base."""
    moved = np.any(model[retired] != grown[retired], axis=1)
    return [int(k) for k in np.flatnonzero(retired)[moved]]
