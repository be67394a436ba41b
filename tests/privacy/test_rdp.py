"""The privacy accountant against closed forms and published values."""

from __future__ import annotations

import doctest
import math

import pytest

from mpcrec.errors import ConfigError
from mpcrec.privacy import accountant, budget, gdp, joint, rdp
from mpcrec.privacy.accountant import RDPAccountant, gaussian_epsilon, gaussian_noise_multiplier
from mpcrec.privacy.rdp import DEFAULT_ORDERS, compute_rdp, rdp_sampled_gaussian, rdp_to_epsilon


@pytest.mark.parametrize("module", [rdp, accountant, budget, gdp, joint])
def test_doctests(module: object) -> None:
    failures, tried = doctest.testmod(module)  # type: ignore[arg-type]
    assert tried > 0
    assert failures == 0


@pytest.mark.parametrize("z", [0.5, 1.0, 2.3])
@pytest.mark.parametrize("order", [1.5, 2.0, 7.0, 32.0])
def test_unsampled_gaussian_is_closed_form(z: float, order: float) -> None:
    assert rdp_sampled_gaussian(sample_rate=1.0, noise_multiplier=z, order=order) == pytest.approx(
        order / (2 * z**2), rel=1e-12
    )


def test_unsampled_epsilon_is_closed_form_minimised() -> None:
    z, steps, delta = 3.0, 50, 1e-5
    expected = min(
        steps * a / (2 * z**2) - (math.log(delta) + math.log(a)) / (a - 1) + math.log((a - 1) / a)
        for a in DEFAULT_ORDERS
    )
    rdp = gaussian_epsilon(noise_multiplier=z, steps=steps, delta=delta, accountant="rdp")
    assert rdp == pytest.approx(expected, rel=1e-12)


def test_tiny_sample_rate_approaches_q_squared_bound() -> None:
    # For small q, RDP(alpha) ~ q^2 * alpha / z^2 (Mironov et al. 2019, Table 1 regime): the
    # binomial sum's second-order term; fractional and integer orders agree with it.
    q, z = 1e-4, 2.0
    for order in (2.0, 2.5, 4.0):
        value = rdp_sampled_gaussian(sample_rate=q, noise_multiplier=z, order=order)
        second_order = order * q**2 * (math.exp(1 / z**2) - 1) / 2
        assert value == pytest.approx(second_order, rel=1e-3)


def test_fractional_orders_interpolate_integer_orders() -> None:
    # RDP is non-decreasing in the order; a fractional order lies between its integer neighbours.
    q, z = 0.01, 1.1
    lo = rdp_sampled_gaussian(sample_rate=q, noise_multiplier=z, order=3.0)
    mid = rdp_sampled_gaussian(sample_rate=q, noise_multiplier=z, order=3.5)
    hi = rdp_sampled_gaussian(sample_rate=q, noise_multiplier=z, order=4.0)
    assert lo < mid < hi


def test_opacus_reference_value() -> None:
    # opacus/tests/accountants_test.py::test_rdp_accountant: 7.32911117143
    acc = RDPAccountant()
    for _ in range(int(90 / 0.04)):
        acc.step(noise_multiplier=1.5, sample_rate=0.04)
    assert acc.history == [(1.5, 0.04, 2250)]
    assert acc.get_epsilon(1e-5) == pytest.approx(7.32911117143, abs=1e-9)


def test_opacus_docstring_example_two_mechanisms() -> None:
    # opacus/accountants/analysis/rdp.py module docstring: (0.336, 23) for orders 2..32.
    orders = [float(a) for a in range(2, 33)]
    first = compute_rdp(sample_rate=1e-5, noise_multiplier=1.0, steps=10, orders=orders)
    second = compute_rdp(sample_rate=1e-4, noise_multiplier=3.0, steps=4, orders=orders)
    eps, order = rdp_to_epsilon(
        orders=orders, rdp=[a + b for a, b in zip(first, second, strict=True)], delta=1e-5
    )
    assert round(eps, 3) == 0.336
    assert order == 23.0


def test_abadi_mnist_with_classic_conversion() -> None:
    # Abadi et al. 2016 / TF-Privacy tutorial: N=60000, batch 256, z=1.1, 60 epochs,
    # delta=1e-5 -> eps about 3.0 with RDP and the classic conversion rdp - log(delta)/(a-1).
    q = 256 / 60000
    steps = math.ceil(60 * 60000 / 256)
    curve = compute_rdp(sample_rate=q, noise_multiplier=1.1, steps=steps, orders=DEFAULT_ORDERS)
    classic = min(r - math.log(1e-5) / (a - 1) for a, r in zip(DEFAULT_ORDERS, curve, strict=True))
    assert classic == pytest.approx(3.01, abs=0.01)
    improved = gaussian_epsilon(noise_multiplier=1.1, steps=steps, delta=1e-5, sample_rate=q)
    assert improved < classic  # Balle et al. 2020 is strictly tighter
    assert improved == pytest.approx(2.597, abs=1e-3)


def test_opacus_noise_multiplier_search() -> None:
    # opacus/tests/accountants_test.py::test_get_noise_multiplier_rdp_steps: 1.3562 (+-0.01 grid)
    z = gaussian_noise_multiplier(target_epsilon=8.0, steps=2000, delta=1e-5, sample_rate=0.04)
    assert z == pytest.approx(1.3562, abs=0.01)
    eps = gaussian_epsilon(noise_multiplier=z, steps=2000, delta=1e-5, sample_rate=0.04)
    assert eps <= 8.0
    assert gaussian_epsilon(noise_multiplier=z - 0.01, steps=2000, delta=1e-5, sample_rate=0.04) > 8


def test_composition_adds_and_mixed_history() -> None:
    acc = RDPAccountant()
    acc.step(noise_multiplier=1.0, sample_rate=0.1, steps=5)
    acc.step(noise_multiplier=2.0, sample_rate=1.0, steps=3)
    acc.step(noise_multiplier=1.0, sample_rate=0.1, steps=5)
    assert len(acc.history) == 3
    one = compute_rdp(sample_rate=0.1, noise_multiplier=1.0, steps=10, orders=DEFAULT_ORDERS)
    two = compute_rdp(sample_rate=1.0, noise_multiplier=2.0, steps=3, orders=DEFAULT_ORDERS)
    assert acc.rdp() == pytest.approx([a + b for a, b in zip(one, two, strict=True)], rel=1e-12)


def test_epsilon_grows_with_rounds_and_shrinks_with_noise() -> None:
    eps = [
        gaussian_epsilon(noise_multiplier=1.0, steps=s, delta=1e-5, sample_rate=0.2)
        for s in (1, 10, 100)
    ]
    assert eps[0] < eps[1] < eps[2]
    assert gaussian_epsilon(noise_multiplier=4.0, steps=10, delta=1e-5) < gaussian_epsilon(
        noise_multiplier=2.0, steps=10, delta=1e-5
    )


def test_edge_cases() -> None:
    assert RDPAccountant().get_epsilon(1e-5) == 0.0
    assert gaussian_epsilon(noise_multiplier=0.0, steps=1, delta=1e-5) == math.inf
    assert gaussian_epsilon(noise_multiplier=1.0, steps=5, delta=1e-5, sample_rate=0.0) < 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"noise_multiplier": -1.0, "steps": 1, "delta": 1e-5},
        {"noise_multiplier": 1.0, "steps": 1, "delta": 0.0},
        {"noise_multiplier": 1.0, "steps": 1, "delta": 1e-5, "sample_rate": 1.5},
        {"noise_multiplier": 1.0, "steps": -3, "delta": 1e-5},
    ],
)
def test_bad_parameters_raise_user_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        gaussian_epsilon(**kwargs)  # type: ignore[arg-type]
