"""The budget split of unsampled Gaussian releases (DP-ALS) against the closed form."""

from __future__ import annotations

import math

import pytest

from mpcrec.errors import ConfigError
from mpcrec.privacy.joint import split_budget
from mpcrec.privacy.rdp import DEFAULT_ORDERS, rdp_to_epsilon


@pytest.mark.parametrize(("rounds", "share"), [(1, 0.0), (2, 0.0), (5, 0.1)])
def test_split_budget_spends_the_target_and_matches_the_closed_form(
    rounds: int, share: float
) -> None:
    z, z_first, spent = split_budget(epsilon=8.0, delta=1e-5, rounds=rounds, first_share=share)
    assert 7.99 <= spent <= 8.0
    # closed form: unsampled Gaussians have RDP alpha / (2 z^2) and compose by addition
    inverse = rounds / z**2 + (1 / z_first**2 if share else 0.0)
    rdp = [a * inverse / 2 for a in DEFAULT_ORDERS]
    assert rdp_to_epsilon(orders=DEFAULT_ORDERS, rdp=rdp, delta=1e-5)[0] == pytest.approx(spent)
    if share:
        assert (1 / z_first**2) / inverse == pytest.approx(share)


def test_more_rounds_mean_more_noise_per_round() -> None:
    one = split_budget(epsilon=8.0, delta=1e-5, rounds=1, first_share=0.0)[0]
    four = split_budget(epsilon=8.0, delta=1e-5, rounds=4, first_share=0.0)[0]
    assert four == pytest.approx(2 * one)


def test_no_noise_and_bad_arguments() -> None:
    assert split_budget(epsilon=math.inf, delta=1e-5, rounds=3, first_share=0.0) == (
        0.0,
        0.0,
        math.inf,
    )
    with pytest.raises(ConfigError):
        split_budget(epsilon=8.0, delta=1e-5, rounds=0, first_share=0.0)
    with pytest.raises(ConfigError):
        split_budget(epsilon=8.0, delta=1e-5, rounds=2, first_share=1.0)
