"""A member dies: every process ends the round with a clear error within the timeout."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

from committees.local_committee import LocalCommittee
from committees.session import SessionSettings
from mpcrec.errors import RoundAborted
from mpcrec.secure.program import RoundSpec
from tests.secure.conftest import member_shares

TIMEOUT_S = 15.0


def _spec(round_id: int, dim: int, n: int) -> RoundSpec:
    return RoundSpec(
        round_id=round_id,
        dim=dim,
        weights=(1.0,) * n,
        public_offset=np.zeros(dim),
        clip_norm=1.0,
        range_bound=16.0,
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("protocol", ["replicated", "beaver"])
@pytest.mark.parametrize("transport", ["gloo"])
def test_member_killed_aborts_cleanly_and_the_committee_recovers(
    protocol: str, transport: str
) -> None:
    rng = np.random.default_rng(12)
    settings = SessionSettings(protocol=protocol, provider="TTP", timeout_s=TIMEOUT_S)
    small = [rng.normal(0, 0.01, 1000) for _ in range(3)]
    with LocalCommittee(3, settings, transport=transport) as committee:
        # 1. a member dies before the round: the others fail fast, nothing revealed
        os.kill(committee.pids[2], signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(RoundAborted, match="member 2"):
            committee.run_round(_spec(1, 1000, 3), member_shares(small))
        assert time.monotonic() - started < 3 * TIMEOUT_S
        # 2. the survivors (and a replacement) join a fresh session on a new port
        outcome = committee.run_round(_spec(2, 1000, 3), member_shares(small))
        assert outcome.params is not None
        assert np.max(np.abs(outcome.params - sum(small))) <= 1e-3
        pids = committee.pids
        if protocol == "replicated":  # mid-computation once is enough
            _kill_mid_round(committee, rng, small)
            pids = committee.pids
    # 4. closing the committee leaves no process behind
    assert pids and not any(_alive(pid) for pid in pids)


def _kill_mid_round(
    committee: LocalCommittee, rng: np.random.Generator, small: list[np.ndarray]
) -> None:
    """3. a member dies 0.3 s into a round of a few seconds; survivors report, all recover."""
    big = [rng.normal(0, 0.001, 400_000) for _ in range(12)]
    committee.stage(_spec(3, 400_000, 12), member_shares(big))
    victim = committee.pids[1]
    killer = threading.Timer(0.3, os.kill, args=(victim, signal.SIGKILL))
    killer.start()
    started = time.monotonic()
    with pytest.raises(RoundAborted) as aborted:
        committee.run_staged()
    killer.join()
    assert time.monotonic() - started < 3 * TIMEOUT_S
    assert "member 1" in str(aborted.value) and "died" in str(aborted.value)
    # every survivor reported an error itself (none had to be killed for silence)
    assert "no reply" not in str(aborted.value)
    outcome = committee.run_round(_spec(4, 1000, 3), member_shares(small))
    assert outcome.params is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
