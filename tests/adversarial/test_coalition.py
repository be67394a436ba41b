"""A coalition below the threshold reads no update: two real member processes of a Beaver
committee of three (with a TTP dealer) pool what they saw (tests/adversarial/coalition_view.py:
their input shares, what the dealer sent them, every opening of the round) and test it
against the victim's update.

The statistic: for each vector of the pooled view of the victim's length (each member's
share, their sum in the ring, the victim's row of each opening), the Pearson correlation of
its values (as signed 64-bit integers) with the victim's encoded update. If the pooled
view were independent of the update, each is about normal with standard deviation
``1/sqrt(dim)``; the test fails when any exceeds ``5/sqrt(dim)``: false-positive rate at
most ``m · 2 · Φ(-5) ≈ m · 5.7e-7`` over ``m`` vectors (union bound; ``m`` is printed in
the assertion). The positive control: the same statistic over all three members' shares
(the threshold reached) is 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from committees import local_committee
from committees.local_committee import LocalCommittee
from committees.session import SessionSettings
from mpcrec.crypto.codec import encode
from mpcrec.secure.program import RoundSpec
from tests.adversarial.coalition_view import coalition_party_main
from tests.adversarial.curious_view import VIEW_DIR_ENV
from tests.secure.conftest import member_shares

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

N, DIM, VICTIM = 3, 1000, 0
COALITION = (0, 1)  # member 0 holds the long share, member 1 a seed: the most they can pool
BOUND = 5.0 / np.sqrt(DIM)


def correlation(view: np.ndarray, update: np.ndarray) -> float:
    """Pearson correlation of two vectors of ring values (signed 64-bit)."""
    a, b = view.astype(np.float64), update.astype(np.float64)
    a, b = a - a.mean(), b - b.mean()
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def pooled_vectors(view_dir: Path, members: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Every vector of the victim's length in the members' pooled view."""
    found: dict[str, np.ndarray] = {}
    shares = []
    for rank in members:
        share = np.load(view_dir / f"inputs-{rank}.npz")[f"share_{VICTIM}"]
        found[f"member {rank}: its share"] = share
        shares.append(share)
        view = np.load(view_dir / f"member-{rank}.npz")
        for key in view.files:
            opening = view[key]
            if key.startswith("opening_") and opening.shape == (N, DIM):
                found[f"member {rank}: {key}, the victim's row"] = opening[VICTIM]
    ring_sum = np.asarray(np.sum(shares, axis=0, dtype=np.int64))  # wraps around 2**64
    found["the shares' sum in the ring"] = ring_sum
    return found


@pytest.mark.timeout(300)
def test_two_members_pooling_their_views_read_nothing_of_the_victims_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: three members and a dealer, each its own process, recording its view
    monkeypatch.setenv(VIEW_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(local_committee, "party_main", coalition_party_main)
    rng = np.random.default_rng(31)
    updates = [rng.normal(0, 0.3 / np.sqrt(DIM), DIM) for _ in range(N)]
    spec = RoundSpec(
        round_id=1, dim=DIM, weights=(1.0,) * N, public_offset=np.zeros(DIM), clip_norm=1.0
    )
    settings = SessionSettings(protocol="beaver", provider="TTP", timeout_s=60)
    with LocalCommittee(3, settings) as committee:
        outcome = committee.run_round(spec, member_shares(updates))
    assert outcome.accepted == (True,) * N
    truth = encode(updates[VICTIM])

    # Execute: the coalition's pooled view against the victim's update
    pooled = pooled_vectors(tmp_path, COALITION)
    found = {name: correlation(v, truth) for name, v in pooled.items()}

    # Assert: no vector of the pooled view correlates with the update ...
    assert any("opening" in name for name in found), sorted(found)  # the openings were seen
    high = {name: r for name, r in found.items() if abs(r) > BOUND}
    assert not high, f"|r| > {BOUND:.3f} over m = {len(found)} vectors: {high}"
    # ... while the same statistic over all three members' shares sees it (the threshold)
    everyone = pooled_vectors(tmp_path, (0, 1, 2))["the shares' sum in the ring"]
    assert correlation(everyone, truth) > 1 - 1e-9
