r"""Exact (ε, δ) of composed UNSAMPLED Gaussian mechanisms: Gaussian differential privacy.

A release with L2 sensitivity ``C`` and Gaussian noise of standard deviation ``z C``, every
unit in it (sample rate 1), is ``1/z``-GDP, and ``T`` such releases of multipliers
``z_1 .. z_T`` compose EXACTLY (not as a bound) to ``mu``-GDP with
``mu = sqrt(sum_i 1 / z_i^2)`` (Dong, Roth and Su 2019, "Gaussian Differential Privacy",
Corollary 3.3). A ``mu``-GDP mechanism is (ε, δ)-DP exactly on the curve

    ``delta(eps) = Phi(-eps / mu + mu / 2) - e^eps Phi(-eps / mu - mu / 2)``

(Balle and Wang 2018, "Improving the Gaussian mechanism", Theorem 8; Dong et al. Cor. 2.13),
which is tight: no smaller ε holds at that δ. The RDP route of :mod:`mpcrec.privacy.rdp`
(``alpha / (2 z^2)`` converted at the best order) is an upper bound of it.

Only sample rate 1 is handled here: for Poisson subsampling GDP offers a central limit
theorem, an approximation and not a bound, so subsampled rounds stay with RDP
(``docs/privacy-accounting.md`` "Which accountant").

The arithmetic is ``math`` only and deterministic. ``e^eps Phi(b)`` is computed in log space
(``log Phi`` from ``erfc``, its asymptotic series in the far tail), so nothing overflows or
underflows before δ itself does.

Examples
--------
One release at ``z = 1`` (``mu = 1``), at ε = 0: ``delta = 2 Phi(1/2) - 1``.

>>> round(gaussian_delta(0.0, 1.0), 6)
0.382925
>>> round(gdp_epsilon(1.0, 1e-5), 4)
4.3772
>>> round(1 / gdp_mu(8.0, 1e-5), 4)
0.6002
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from mpcrec.errors import ConfigError
from mpcrec.privacy.rdp import log_erfc

#: Relative width at which the bisections of :func:`gdp_epsilon` and :func:`gdp_mu` stop.
RELATIVE_TOLERANCE = 1e-13

_SQRT2 = math.sqrt(2.0)
_LOG_HALF = math.log(0.5)


def log_ndtr(x: float) -> float:
    """``log Phi(x)``, the standard normal CDF's logarithm, accurate in both tails.

    >>> round(math.exp(log_ndtr(0.0)), 12)
    0.5
    >>> round(log_ndtr(-40.0), 4)  # Phi(-40) underflows a double; its log does not
    -804.6084
    """
    if x > 0.0:
        return math.log1p(-0.5 * math.erfc(x / _SQRT2))
    return _LOG_HALF + log_erfc(-x / _SQRT2)


def composed_mu(noise_multipliers: Iterable[float]) -> float:
    """``mu = sqrt(sum 1 / z_i^2)`` of releases with these multipliers (``inf`` once a
    multiplier is 0: a release without noise; an infinite multiplier releases nothing).

    >>> composed_mu([2.0, 2.0, 2.0, 2.0])
    1.0
    """
    total = 0.0
    for z in noise_multipliers:
        if not z >= 0.0:
            raise ConfigError(f"noise_multiplier={z!r} is negative or not a number")
        if z == 0.0:
            return math.inf
        total += 1.0 / (z * z)
    return math.sqrt(total)


def gaussian_delta(epsilon: float, mu: float) -> float:
    """The tight δ of a ``mu``-GDP mechanism at ``epsilon >= 0`` (module docstring).

    ``0.0`` for ``mu = 0`` (nothing released), ``1.0`` for ``mu = inf`` (no noise).
    """
    if not epsilon >= 0.0 or not mu >= 0.0:
        raise ConfigError(f"epsilon={epsilon!r}, mu={mu!r}: both must be >= 0")
    if mu == 0.0 or math.isinf(epsilon):
        return 0.0
    if math.isinf(mu):
        return 1.0
    log_a = log_ndtr(-epsilon / mu + mu / 2.0)
    log_b = epsilon + log_ndtr(-epsilon / mu - mu / 2.0)
    if log_b >= log_a:  # only by rounding: the true difference is positive and tiny
        return 0.0
    return math.exp(log_a) * -math.expm1(log_b - log_a)


def gdp_epsilon(mu: float, delta: float) -> float:
    """The smallest ε at which a ``mu``-GDP mechanism is (ε, ``delta``)-DP.

    Bisection on the decreasing curve :func:`gaussian_delta`; the result is the upper end
    of the last bracket (relative width :data:`RELATIVE_TOLERANCE`), so it always holds:
    ``gaussian_delta(result, mu) <= delta``. ``0.0`` for ``mu = 0``, ``inf`` for ``mu = inf``.
    """
    _check_delta(delta)
    if not mu >= 0.0:
        raise ConfigError(f"mu={mu!r} must be >= 0")
    if math.isinf(mu):
        return math.inf
    if gaussian_delta(0.0, mu) <= delta:
        return 0.0
    low, high = 0.0, max(1.0, mu * mu)
    while gaussian_delta(high, mu) > delta:
        low, high = high, 2.0 * high
    while high - low > RELATIVE_TOLERANCE * high:
        mid = (low + high) / 2.0
        if gaussian_delta(mid, mu) > delta:
            low = mid
        else:
            high = mid
    return high


def gdp_mu(epsilon: float, delta: float) -> float:
    """The largest ``mu`` whose mechanism is (``epsilon``, ``delta``)-DP (the lower end of
    the last bracket: ``gaussian_delta(epsilon, result) <= delta`` always holds)."""
    _check_delta(delta)
    if not (epsilon > 0.0 and math.isfinite(epsilon)):
        raise ConfigError(f"epsilon={epsilon!r} must be a finite number > 0", hint="e.g. 8.0")
    low, high = 0.0, 1.0  # delta grows with mu
    while gaussian_delta(epsilon, high) <= delta:
        low, high = high, 2.0 * high
    while high - low > RELATIVE_TOLERANCE * high:
        mid = (low + high) / 2.0
        if gaussian_delta(epsilon, mid) <= delta:
            low = mid
        else:
            high = mid
    return low


def _check_delta(delta: float) -> None:
    if not 0.0 < delta < 1.0:
        raise ConfigError(f"delta={delta!r} is not in (0, 1)", hint="a usual choice is 1e-5")
