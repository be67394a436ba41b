"""Growing the model with the catalogue: new rows' initial values, retired rows frozen."""

from __future__ import annotations

import numpy as np
import pytest

from mpcrec.errors import ConfigError
from mpcrec.model.catalogue_rows import freeze_retired, grow_rows, mean_rows


def test_new_rows_start_at_zero_and_old_rows_keep_their_values() -> None:
    base = np.arange(6, dtype=np.float64).reshape(3, 2)
    grown = grow_rows(base, 5)
    assert grown.shape == (5, 2)
    assert np.array_equal(grown[:3], base) and not grown[3:].any()
    assert grow_rows(base, 3) is base
    with pytest.raises(ConfigError, match="never removed"):
        grow_rows(base, 2)


def test_mean_rows_average_the_live_rows_only() -> None:
    base = np.array([[1.0, 1.0], [100.0, 100.0], [3.0, 3.0]])
    grown = grow_rows(base, 4, retired=[False, True, False], initial=mean_rows)
    assert np.array_equal(grown[3], [2.0, 2.0])


def test_a_rule_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ConfigError, match="initial rows"):
        grow_rows(np.zeros((2, 2)), 3, initial=lambda b, n, r: np.zeros((n, 3)))


def test_retired_rows_are_not_trained() -> None:
    update = np.ones((3, 2))
    frozen = freeze_retired(update, [False, True, False])
    assert frozen[1].tolist() == [0.0, 0.0] and frozen[[0, 2]].all() and update.all()
    with pytest.raises(ConfigError):
        freeze_retired(update, [True])
