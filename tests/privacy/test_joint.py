"""The budget split of unsampled Gaussian releases (DP-ALS) against the closed forms: the
exact curve of mu = sqrt(sum 1/z^2) (the default) and RDP's alpha / (2 z^2) (``rdp``)."""

from __future__ import annotations

import math

import pytest

from mpcrec.errors import ConfigError
from mpcrec.privacy.gdp import gdp_epsilon
from mpcrec.privacy.joint import split_budget
from mpcrec.privacy.rdp import DEFAULT_ORDERS, rdp_to_epsilon


@pytest.mark.parametrize(("rounds", "share"), [(1, 0.0), (2, 0.0), (5, 0.1)])
def test_split_budget_spends_the_target_and_matches_the_closed_form(
    rounds: int, share: float
) -> None:
    z, z_first, spent = split_budget(epsilon=8.0, delta=1e-5, rounds=rounds, first_share=share)
    assert 8.0 - 1e-9 <= spent <= 8.0
    # exact: unsampled Gaussians compose to mu-GDP, mu^2 = sum 1 / z^2
    inverse = rounds / z**2 + (1 / z_first**2 if share else 0.0)
    assert gdp_epsilon(math.sqrt(inverse), 1e-5) == pytest.approx(spent, rel=1e-12)
    # the RDP figure of the same noise is an upper bound, and more than 5 % above at ε = 8
    rdp = [a * inverse / 2 for a in DEFAULT_ORDERS]
    assert rdp_to_epsilon(orders=DEFAULT_ORDERS, rdp=rdp, delta=1e-5)[0] > 1.05 * spent
    if share:
        assert (1 / z_first**2) / inverse == pytest.approx(share)


@pytest.mark.parametrize(("rounds", "share"), [(1, 0.0), (5, 0.1)])
def test_the_rdp_split_is_the_calibration_before_gdp(rounds: int, share: float) -> None:
    z, z_first, spent = split_budget(
        epsilon=8.0, delta=1e-5, rounds=rounds, first_share=share, accountant="rdp"
    )
    assert 7.99 <= spent <= 8.0
    inverse = rounds / z**2 + (1 / z_first**2 if share else 0.0)
    rdp = [a * inverse / 2 for a in DEFAULT_ORDERS]
    assert rdp_to_epsilon(orders=DEFAULT_ORDERS, rdp=rdp, delta=1e-5)[0] == pytest.approx(spent)
    exact = split_budget(epsilon=8.0, delta=1e-5, rounds=rounds, first_share=share)[0]
    assert exact < 0.95 * z  # the exact calibration: at least 5 % less noise


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
