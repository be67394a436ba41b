"""The Gram release's rounds at a node (``ease_*`` round parameters, issue 16): each slice's
contribution is the instance's own counts (their sum is the central ``X^T X`` exactly), the
member's round is ``count_sum.sum_spec`` and publishes the base unchanged, and training
resumes on base version ``S``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mpcrec.data.split import leave_last_out
from mpcrec.errors import ProtocolError
from mpcrec.federation.gram_slice import slice_bytes
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.round_params import RoundParams
from mpcrec.model.item_gram import ease_weights, from_triangle, gram_slices, viewed
from mpcrec.model.seqrec import SeqModel
from mpcrec.node.aggregation.gram_step import gram_result, gram_spec
from mpcrec.node.gram_release import GramRelease, released_gram
from mpcrec.node.grown_round import RoundBase
from mpcrec.node.home_contribution import contribution
from mpcrec.node.seqrec_trainer import SeqrecTrainer, to_matrix
from mpcrec.secure.count_sum import COUNT_UNIT, sum_spec
from tests.node.test_seqrec_twin import CONFIG, walks

PARAMS = RoundParams(
    aggregation="secure",
    clip_norm=8.0,
    range_bound=128.0,
    noise_multiplier=0.0,
    min_contributors=3,
    committee_size=3,
    server_lr=8.0,
    model="seqrec",
    ease_lambda=5.0,
    ease_weight=0.4,
    ease_clip_counts=4096.0,
    ease_slice_values=120,
)


def _base(matrix: np.ndarray, version: int) -> RoundBase:
    rows, dim = matrix.shape
    published = PublishedModel(version, rows, dim, matrix.tobytes())
    return RoundBase(published, matrix, None, np.zeros(rows, dtype=bool))


def test_the_slices_contributions_sum_to_the_central_gram_and_training_starts_at_s() -> None:
    split = leave_last_out(walks())
    rng = np.random.default_rng(3)
    matrix = to_matrix(SeqModel.init(split.n_items, CONFIG, rng))
    homes = [np.arange(split.n_users)[k::3] for k in range(3)]
    trainers = [SeqrecTrainer(split, users, 1, rng, config=CONFIG) for users in homes]
    slices = gram_slices(split.n_items, PARAMS.ease_slice_values)
    assert PARAMS.gram_slices(split.n_items) == len(slices) == 3  # 325 values for 25 videos

    released = []
    for version, part in enumerate(slices):
        sent = [contribution(t, _base(matrix, version), version, PARAMS) for t in trainers]
        assert all(w == 1.0 and len(v) == part.stop - part.start for v, w in sent)
        # the committee's exact sum, as its plaintext twin (ring units are counts)
        released.append(np.sum([v for v, _ in sent], axis=0) / COUNT_UNIT)
    gram = from_triangle(np.concatenate(released).astype(np.int64), split.n_items)
    assert np.array_equal(gram, viewed(split).T @ viewed(split))

    delta, weight = contribution(trainers[0], _base(matrix, 3), 3, PARAMS)
    assert np.shape(delta) == matrix.shape and weight > 1  # a training round's update


def test_a_member_sums_a_slice_exactly_and_publishes_the_base_unchanged() -> None:
    spec = gram_spec(
        PARAMS, round_id=7, base_version=1, n_items=25, contributors=4, min_contributors=3
    )
    part = gram_slices(25, PARAMS.ease_slice_values)[1]
    assert spec == sum_spec(7, part.stop - part.start, 4, clip_counts=4096.0, min_contributors=3)
    training = dict(round_id=7, base_version=3, n_items=25, contributors=4, min_contributors=3)
    assert gram_spec(PARAMS, **training) is None
    assert (
        gram_spec(
            dataclasses.replace(
                PARAMS, ease_slice_values=0, ease_lambda=0.0, ease_weight=0.0, ease_clip_counts=0.0
            ),
            **training | {"base_version": 0},
        )
        is None
    )

    base = np.arange(12.0).reshape(3, 4)
    model, counts = gram_result(np.array([3, 0, 41]) * COUNT_UNIT, (1.0,) * 4, base)
    assert np.array_equal(model, base) and counts.tolist() == [3, 0, 41]
    with pytest.raises(ProtocolError, match="off the integers"):
        gram_result(np.array([3.5]) * COUNT_UNIT, (1.0,) * 4, base)
    with pytest.raises(ProtocolError, match="not 1"):
        gram_result(np.array([3]) * COUNT_UNIT, (0.25,) * 4, base)


def test_a_node_rebuilds_the_released_gram_from_versions_1_to_s_and_solves_b() -> None:
    rng = np.random.default_rng(8)
    triangle = rng.integers(0, 9, 325)  # 25 videos, slices of 120: versions 1-3
    parts = gram_slices(25, PARAMS.ease_slice_values)
    served = {
        k + 1: PublishedModel(k + 1, 25, 2, bytes(400), gram_slice=slice_bytes(triangle[part]))
        for k, part in enumerate(parts)
    }
    release = GramRelease()
    release.params = PARAMS

    assert release.ease(2, served.__getitem__) == {}  # slice 3 not published yet
    assert release.ease(3, served.__getitem__) == {}  # solving on its own thread
    release.wait(60)
    ease = release.ease(4, served.__getitem__)
    gram = from_triangle(triangle, 25).astype(np.float64)
    assert np.array_equal(ease["ease_weights"], ease_weights(gram, PARAMS.ease_lambda))
    assert ease["ease"].weight == PARAMS.ease_weight
    short = {**served, 2: dataclasses.replace(served[2], gram_slice=slice_bytes(triangle[:5]))}
    with pytest.raises(ProtocolError, match="slice of 5 counts"):
        released_gram(PARAMS, short.__getitem__)
