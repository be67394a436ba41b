"""Providers: a TTP dealer process that is not a member works; TFP is refused by default."""

from __future__ import annotations

import numpy as np
import pytest

from committees.local_committee import LocalCommittee
from committees.party import CommitteeParty
from committees.session import Session, SessionSettings
from mpcrec.errors import ConfigError
from mpcrec.model.server import weighted_sum
from mpcrec.secure.program import RoundSpec
from tests.secure.conftest import member_shares


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ttp_dealer_round_checks_and_aggregates() -> None:
    rng = np.random.default_rng(11)
    dim = 3000
    good = [rng.normal(0, 0.3 / np.sqrt(dim), dim) for _ in range(3)]
    bad = rng.normal(0, 3.0 / np.sqrt(dim), dim)
    settings = SessionSettings(protocol="beaver", provider="TTP", timeout_s=60)
    with LocalCommittee(3, settings) as committee:
        assert committee.dealer is not None and len(committee.pids) == 4
        # round 1: C = 256, B = 4096: the norm is checked in 24 blocks of 127 coordinates
        for round_id, scale in ((0, 1.0), (1, 256.0)):
            spec = RoundSpec(
                round_id=round_id,
                dim=dim,
                weights=(1.0, 0.5, 1.0, 0.25),
                public_offset=np.ones(dim),
                server_lr=0.5,
                clip_norm=scale,
                range_bound=16.0 * scale,
            )
            updates = [scale * u for u in (good[0], bad, good[1], good[2])]
            outcome = committee.run_round(spec, member_shares(updates))
            assert outcome.accepted == (True, False, True, True)
            assert (outcome.protocol, outcome.provider) == ("beaver", "TTP")
            expected = 1.0 + 0.5 * scale * weighted_sum(good, [1.0, 1.0, 0.25])
            assert outcome.params is not None
            assert np.max(np.abs(outcome.params - expected)) <= 1e-3


def test_tfp_is_refused_without_the_unsafe_flag() -> None:
    tfp = SessionSettings(protocol="beaver", provider="TFP")
    with pytest.raises(ConfigError, match="TFP lets member 0 learn"):
        LocalCommittee(3, tfp)
    with pytest.raises(ConfigError, match="TFP lets member 0 learn"):
        CommitteeParty().join(Session("tcp://127.0.0.1:1", 0, 3, tfp))
    SessionSettings(protocol="beaver", provider="TFP", unsafe_allow_tfp=True).check(3)


def test_replicated_needs_exactly_three_members() -> None:
    with pytest.raises(ConfigError, match="exactly 3 members"):
        SessionSettings(protocol="replicated").check(4)
    with pytest.raises(ConfigError, match="unknown MPC protocol"):
        SessionSettings(protocol="spdz").check(3)
