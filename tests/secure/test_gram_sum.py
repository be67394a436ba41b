"""The co-view Gram release in real member processes: exact against its plaintext twin.

Instances' upper-triangle Gram slices (integer co-view counts) are shared among three
CrypTen member processes and summed by the committee program with
:func:`mpcrec.secure.count_sum.sum_spec`; the released Gram must equal the plaintext sum of
the instances' Grams (and the central ``X^T X``) exactly, and an inflated or wrapping slice
must be rejected by the committee's check. Shares one warm committee (one xdist group).
"""

from __future__ import annotations

import numpy as np
import pytest

from committees.local_committee import LocalCommittee
from mpcrec.crypto.codec import encode
from mpcrec.errors import DataError, ProtocolError
from mpcrec.model.item_gram import (
    from_triangle,
    gram_slices,
    home_counts,
    triangle,
    triangle_size,
)
from mpcrec.secure.count_sum import count_values, revealed_counts, sum_spec
from mpcrec.secure.program import RoundSpec
from tests.secure.conftest import member_shares

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("secure-replicated")]

N_ITEMS, N_USERS, INSTANCES = 60, 90, 6
CLIP_COUNTS = 4096.0


def _federation(seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Binary viewing rows and each instance's users (a random partition)."""
    rng = np.random.default_rng(seed)
    rows = (rng.random((N_USERS, N_ITEMS)) < 0.2).astype(np.float64)
    owner = rng.integers(0, INSTANCES, N_USERS)
    return rows, [np.flatnonzero(owner == k) for k in range(INSTANCES)]


@pytest.mark.timeout(240)
def test_released_gram_equals_the_plaintext_sum_exactly(
    replicated_committee: LocalCommittee,
) -> None:
    # Prepare: every instance's triangle, computed from its own users
    rows, members = _federation(5)
    homes = [triangle(home_counts(rows, users)) for users in members]
    slices = gram_slices(N_ITEMS, max_values=700)
    assert len(slices) == 3 and sum(s.stop - s.start for s in slices) == triangle_size(N_ITEMS)
    # Execute: one secure round per slice
    released = []
    for round_id, part in enumerate(slices):
        spec = sum_spec(round_id, part.stop - part.start, INSTANCES, clip_counts=CLIP_COUNTS)
        outcome = replicated_committee.run_round(
            spec, member_shares([count_values(h[part]) for h in homes])
        )
        assert outcome.accepted == (True,) * INSTANCES and outcome.params is not None
        released.append(revealed_counts(outcome.params))
    # Assert: bit for bit the plaintext sum, which is the central X^T X
    gram = from_triangle(np.concatenate(released), N_ITEMS)
    assert np.array_equal(gram, np.sum([home_counts(rows, u) for u in members], axis=0))
    assert np.array_equal(gram, (rows.T @ rows).astype(np.int64))


@pytest.mark.timeout(240)
def test_inflated_and_wrapping_slices_are_rejected(replicated_committee: LocalCommittee) -> None:
    # Prepare: two honest slices, one inflated past the norm bound, one that wraps the ring
    rows, members = _federation(6)
    part = gram_slices(N_ITEMS, max_values=700)[0]
    honest = [triangle(home_counts(rows, u))[part] for u in members[:2]]
    inflated = honest[0] * 0 + int(CLIP_COUNTS)  # every co-view count at the bound
    wrapping = encode(count_values(honest[1])).copy()
    wrapping[:4] = 2**32  # four values squaring to 0 mod 2**64: they fool a norm alone
    dim = part.stop - part.start
    spec = sum_spec(7, dim, 4, clip_counts=CLIP_COUNTS)
    updates = [count_values(h) for h in honest] + [count_values(inflated), wrapping]
    # Execute
    outcome = replicated_committee.run_round(spec, member_shares(updates))
    # Assert: the honest two are summed exactly, the hostile two left out
    assert outcome.accepted == (True, True, False, False)
    assert outcome.params is not None
    assert np.array_equal(revealed_counts(outcome.params), honest[0] + honest[1])


@pytest.mark.timeout(240)
def test_mean_weights_do_not_release_exact_counts(replicated_committee: LocalCommittee) -> None:
    # The model rounds' weights (each over their sum, 1/3 here) do not encode exactly at
    # 2**24: the revealed mean times 3 is off the integers and refused, which is why the
    # Gram release has its own spec.
    rows, members = _federation(7)
    part = gram_slices(N_ITEMS, max_values=700)[1]
    updates = [count_values(triangle(home_counts(rows, u))[part]) for u in members[:3]]
    dim = part.stop - part.start
    spec = RoundSpec(
        round_id=8,
        dim=dim,
        weights=(1 / 3,) * 3,
        public_offset=np.zeros(dim),
        clip_norm=CLIP_COUNTS * 2**-16,
    )
    outcome = replicated_committee.run_round(spec, member_shares(updates))
    assert outcome.params is not None
    with pytest.raises(ProtocolError, match="off the integers"):
        revealed_counts(outcome.params * 3)


def test_counts_must_be_non_negative_integers() -> None:
    with pytest.raises(DataError, match="integers"):
        count_values(np.array([1.5, 2.0]))
    with pytest.raises(DataError, match="outside"):
        count_values(np.array([3, -1]))
    assert np.array_equal(encode(count_values(np.array([0, 7, 943]))), [0, 7, 943])
