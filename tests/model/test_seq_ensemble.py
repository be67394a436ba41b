"""Two models' scores mixed at the viewer's instance (:mod:`mpcrec.model.seq_ensemble`)."""

from __future__ import annotations

import numpy as np
import pytest

from mpcrec.errors import ConfigError
from mpcrec.model.seq_ensemble import ensemble_scorer, mixed, standardised


def test_standardised_rows_have_mean_zero_and_unit_spread_and_a_constant_row_is_zeros() -> None:
    scores = np.array([[1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0]])
    rows = standardised(scores)
    assert np.allclose(rows[0].mean(), 0.0) and np.allclose(rows[0].std(), 1.0)
    assert np.array_equal(rows[1], np.zeros(4))
    assert np.array_equal(np.argsort(rows[0]), np.argsort(scores[0]))


def test_a_models_scale_and_shift_per_viewer_do_not_change_the_mix() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 9)), rng.normal(size=(5, 9))
    scale, shift = rng.uniform(0.1, 10.0, size=(5, 1)), rng.normal(size=(5, 1))
    assert np.allclose(mixed([a, b], [0.4, 0.6]), mixed([a * scale + shift, b], [0.4, 0.6]))


def test_the_weights_decide_which_models_ranking_wins() -> None:
    a = np.array([[3.0, 2.0, 1.0, 0.0]])
    b = np.array([[0.0, 1.0, 2.0, 3.0]])
    assert np.argmax(mixed([a, b], [1.0, 0.0])) == 0
    assert np.argmax(mixed([a, b], [0.0, 1.0])) == 3
    # an item both models put second-best beats either model's favourite at equal weights
    c = np.array([[3.0, 2.5, 0.0, 0.0]])
    d = np.array([[0.0, 2.5, 3.0, 0.0]])
    assert np.argmax(mixed([c, d], [0.5, 0.5])) == 1


def test_the_ensemble_scorer_mixes_its_scorers_scores_of_the_same_users() -> None:
    table_a = np.arange(12.0).reshape(3, 4)
    table_b = np.array([[4.0, 1.0, 0.0, 2.0], [0.0, 0.0, 1.0, 0.0], [1.0, 2.0, 3.0, 5.0]])
    scorer = ensemble_scorer([lambda u: table_a[u], lambda u: table_b[u]], [0.3, 0.7])
    users = np.array([2, 0])
    assert np.allclose(scorer(users), mixed([table_a[users], table_b[users]], [0.3, 0.7]))


def test_one_weight_per_model_is_required() -> None:
    with pytest.raises(ConfigError, match="one weight per model"):
        mixed([np.zeros((1, 3))], [0.5, 0.5])
    with pytest.raises(ConfigError, match="one weight per model"):
        ensemble_scorer([], [])
