"""A committee's deadlines start when its parties are ready, not when their processes are."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from committees.local_committee import LocalCommittee
from committees.session import SessionSettings
from mpcrec.errors import RoundAborted
from mpcrec.secure.program import RoundSpec
from tests.secure.conftest import member_shares

# Shorter than a new party process takes to import torch and CrypTen here (about 3 s), so a
# session whose deadline ran during a replacement's start-up would time the others out.
SHORT_TIMEOUT_S = 1.0


def _spec(round_id: int, dim: int) -> RoundSpec:
    return RoundSpec(
        round_id=round_id,
        dim=dim,
        weights=(1.0, 1.0, 1.0),
        public_offset=np.zeros(dim),
        clip_norm=1.0,
        range_bound=16.0,
    )


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_replacement_start_up_does_not_count_against_the_session_deadline() -> None:
    # Prepare: a warm committee with deadlines shorter than a cold start
    rng = np.random.default_rng(3)
    updates = [rng.normal(0, 0.01, 500) for _ in range(3)]
    settings = SessionSettings(protocol="replicated", provider="TTP", timeout_s=SHORT_TIMEOUT_S)
    with LocalCommittee(3, settings, transport="gloo") as committee:
        os.kill(committee.pids[2], signal.SIGKILL)
        with pytest.raises(RoundAborted, match="member 2"):
            committee.run_round(_spec(1, 500), member_shares(updates))
        # Execute: members 0 and 1 are warm; member 2 and the dealer are new processes
        started = time.monotonic()
        outcome = committee.run_round(_spec(2, 500), member_shares(updates))
        elapsed = time.monotonic() - started
    # Assert: the round ran, and the new processes' start-up took longer than the deadline
    assert outcome.params is not None
    assert np.max(np.abs(outcome.params - sum(updates))) <= 1e-3
    assert elapsed > SHORT_TIMEOUT_S
