"""The exact curve of composed unsampled Gaussians (mpcrec.privacy.gdp) against a 60-digit
reference (mpmath), its closed-form values, its inverses, and the RDP bound above it."""

from __future__ import annotations

import math

import mpmath  # type: ignore[import-untyped]
import pytest

from mpcrec.errors import ConfigError
from mpcrec.privacy.accountant import gaussian_epsilon, gaussian_noise_multiplier
from mpcrec.privacy.budget import epsilon_spent, rounds_within_budget
from mpcrec.privacy.gdp import composed_mu, gaussian_delta, gdp_epsilon, gdp_mu, log_ndtr

DELTA = 1e-5


def reference_delta(epsilon: float, mu: float) -> mpmath.mpf:
    """``Phi(-e/mu + mu/2) - e^e Phi(-e/mu - mu/2)`` at 60 significant digits."""
    with mpmath.workdps(60):
        e, m = mpmath.mpf(epsilon), mpmath.mpf(mu)
        return mpmath.ncdf(-e / m + m / 2) - mpmath.exp(e) * mpmath.ncdf(-e / m - m / 2)


@pytest.mark.parametrize("mu", [0.05, 0.3, 1.0, 1.666, 3.0, 10.0])
@pytest.mark.parametrize("epsilon", [0.0, 0.1, 1.0, 4.0, 8.0, 16.0, 40.0])
def test_delta_matches_the_high_precision_reference(epsilon: float, mu: float) -> None:
    reference = reference_delta(epsilon, mu)
    got = gaussian_delta(epsilon, mu)
    if reference < mpmath.mpf("1e-290"):  # below what a double holds: it may round to 0
        assert got <= 1e-280
        return
    assert got == pytest.approx(float(reference), rel=1e-9)


def test_far_tail_has_no_overflow_and_keeps_its_relative_precision() -> None:
    """eps = 700: e^eps alone is 1e304; eps = 1000 overflows a double. log space does not."""
    for epsilon, mu in [(700.0, 20.0), (1000.0, 30.0), (3000.0, 60.0)]:
        reference = reference_delta(epsilon, mu)
        assert gaussian_delta(epsilon, mu) == pytest.approx(float(reference), rel=1e-8)
    assert gaussian_delta(1e6, 1.0) == 0.0
    with mpmath.workdps(50):
        assert log_ndtr(-45.0) == pytest.approx(float(mpmath.log(mpmath.ncdf(-45))), rel=1e-12)
        assert log_ndtr(3.0) == pytest.approx(float(mpmath.log(mpmath.ncdf(3))), rel=1e-12)


def test_closed_form_values() -> None:
    # mu = 1, eps = 0: 2 Phi(1/2) - 1 = erf(1 / (2 sqrt 2))
    assert gaussian_delta(0.0, 1.0) == pytest.approx(math.erf(0.5 / math.sqrt(2)), rel=1e-14)
    # eps = 0 is the total variation distance of N(0,1) and N(mu,1): 2 Phi(mu/2) - 1
    for mu in (0.1, 2.0, 5.0):
        assert gaussian_delta(0.0, mu) == pytest.approx(math.erf(mu / (2 * math.sqrt(2))))
    # mu = 0 releases nothing, mu = inf is no noise
    assert gaussian_delta(3.0, 0.0) == 0.0 and gaussian_delta(3.0, math.inf) == 1.0
    assert gdp_epsilon(0.0, DELTA) == 0.0 and gdp_epsilon(math.inf, DELTA) == math.inf
    # a delta at or above the eps = 0 value needs no epsilon at all
    assert gdp_epsilon(1.0, 0.5) == 0.0


@pytest.mark.parametrize("mu", [0.01, 0.2, 1.0, 1.666, 7.0, 100.0])
def test_epsilon_and_mu_invert_the_curve_tightly(mu: float) -> None:
    epsilon = gdp_epsilon(mu, DELTA)
    assert gaussian_delta(epsilon, mu) <= DELTA < gaussian_delta(epsilon * (1 - 1e-9), mu)
    back = gdp_mu(epsilon, DELTA)
    assert back == pytest.approx(mu, rel=1e-9) and gaussian_delta(epsilon, back) <= DELTA


def test_the_brief_s_calibration_one_release_at_epsilon_8() -> None:
    z = gaussian_noise_multiplier(target_epsilon=8.0, steps=1, delta=DELTA)
    rdp = gaussian_noise_multiplier(target_epsilon=8.0, steps=1, delta=DELTA, accountant="rdp")
    assert round(z, 4) == 0.6002 and round(rdp, 4) == 0.6377
    assert epsilon_spent([(z, 1.0)], delta=DELTA) <= 8.0
    assert epsilon_spent([(z * (1 - 1e-9), 1.0)], delta=DELTA) > 8.0  # the least noise


@pytest.mark.parametrize("z", [0.3, 0.6, 1.0, 2.0, 4.0, 10.0])
@pytest.mark.parametrize("steps", [1, 3, 50])
def test_the_exact_curve_is_never_above_the_rdp_bound(z: float, steps: int) -> None:
    exact = gaussian_epsilon(noise_multiplier=z, steps=steps, delta=DELTA)
    rdp = gaussian_epsilon(noise_multiplier=z, steps=steps, delta=DELTA, accountant="rdp")
    assert exact <= rdp
    # and the RDP bound really is loose here: at its epsilon, the exact delta is smaller
    mu = math.sqrt(steps) / z
    assert gaussian_delta(rdp, mu) <= DELTA


def test_composition_of_rounds_is_one_gaussian() -> None:
    assert composed_mu([2.0] * 4) == 1.0 and composed_mu([1.0, 0.0]) == math.inf
    rounds = [(0.8, 1.0)] * 5
    one = [(0.8 / math.sqrt(5), 1.0)]
    assert epsilon_spent(rounds, delta=DELTA) == pytest.approx(
        epsilon_spent(one, delta=DELTA), rel=1e-12
    )
    mixed = [(1.0, 1.0), (2.0, 1.0), (2.0, 1.0)]  # 1 + 1/4 + 1/4 = 1.5
    assert epsilon_spent(mixed, delta=DELTA) == pytest.approx(gdp_epsilon(math.sqrt(1.5), DELTA))
    # the launcher's count of affordable rounds is the same composition
    n = rounds_within_budget([(1.0, 1.0)], (4.0, 1.0), delta=DELTA, budget=8.0)
    assert epsilon_spent([(1.0, 1.0)] + [(4.0, 1.0)] * n, delta=DELTA) <= 8.0
    assert epsilon_spent([(1.0, 1.0)] + [(4.0, 1.0)] * (n + 1), delta=DELTA) > 8.0


def test_any_subsampled_round_keeps_the_whole_sequence_under_rdp() -> None:
    rounds = [(1.0, 1.0), (1.0, 0.5)]
    assert epsilon_spent(rounds, delta=DELTA) == epsilon_spent(
        rounds, delta=DELTA, accountant="rdp"
    )
    with pytest.raises(ConfigError, match="sample rate 1 only"):
        epsilon_spent(rounds, delta=DELTA, accountant="gdp")
    with pytest.raises(ConfigError):
        gaussian_epsilon(noise_multiplier=1.0, steps=1, delta=DELTA, sample_rate=0.5,
                         accountant="gdp")  # fmt: skip


@pytest.mark.parametrize(
    "call",
    [
        lambda: gaussian_delta(-1.0, 1.0),
        lambda: gdp_epsilon(1.0, 0.0),
        lambda: gdp_epsilon(-1.0, DELTA),
        lambda: gdp_mu(0.0, DELTA),
        lambda: gdp_mu(math.inf, DELTA),
        lambda: composed_mu([-1.0]),
    ],
)
def test_bad_arguments_are_config_errors(call: object) -> None:
    with pytest.raises(ConfigError):
        call()  # type: ignore[operator]
