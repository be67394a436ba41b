"""The privacy accountant: how much (ε, δ) the rounds published so far have spent.

A thin stateful layer over the pure functions of :mod:`mpcrec.privacy.rdp` (the Opacus split:
``accountants/rdp.py`` over ``accountants/analysis/rdp.py``). Each round adds Gaussian noise
of standard deviation ``sigma = noise_multiplier * C`` to a sum whose L2 sensitivity is the
clip norm ``C`` of one *unit*. The unit decides the level of the guarantee:

* **instance level**: the unit is an instance; ``C`` bounds an instance's whole update and
  ``sample_rate`` is the probability that an instance contributes to a round (1.0 when every
  registered instance contributes);
* **user level**: the unit is a user; every instance clips each of its users' influence to
  ``C`` at home and ``sample_rate`` is the Poisson rate at which users are sampled.

With the committee's distributed noise (each of the k members adds noise of std ``sigma``),
pass the ``sigma`` that survives k-1 colluders, never the larger total: see
``docs/privacy-accounting.md``.

Examples
--------
>>> acc = RDPAccountant()
>>> acc.step(noise_multiplier=1.5, sample_rate=0.04, steps=2250)
>>> round(acc.get_epsilon(1e-5), 4)
7.3291
>>> round(gaussian_epsilon(noise_multiplier=1.5, steps=2250, delta=1e-5, sample_rate=0.04), 4)
7.3291
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

from mpcrec.errors import ConfigError
from mpcrec.privacy.gdp import composed_mu, gdp_epsilon, gdp_mu
from mpcrec.privacy.rdp import DEFAULT_ORDERS, compute_rdp, rdp_to_epsilon

#: The accountants: ``rdp`` (Rényi DP of the sampled Gaussian, an upper bound, for any
#: sample rate) and ``gdp`` (the exact curve of :mod:`mpcrec.privacy.gdp`, sample rate 1
#: only). :func:`accountant_for` picks one for a sequence of rounds.
RDP = "rdp"
GDP = "gdp"
ACCOUNTANTS = (RDP, GDP)


def accountant_for(sample_rates: Sequence[float]) -> str:
    """:data:`GDP` when every round has sample rate 1 (exact), else :data:`RDP`.

    >>> accountant_for([1.0, 1.0]), accountant_for([1.0, 0.2])
    ('gdp', 'rdp')
    """
    return GDP if all(q == 1.0 for q in sample_rates) else RDP


@functools.lru_cache(maxsize=256)
def _rdp_per_step(
    noise_multiplier: float, sample_rate: float, orders: tuple[float, ...]
) -> tuple[float, ...]:
    """RDP of one step at each order, cached: rounds usually repeat the same mechanism."""
    return tuple(
        compute_rdp(
            sample_rate=sample_rate, noise_multiplier=noise_multiplier, steps=1, orders=orders
        )
    )


class RDPAccountant:
    """Accumulates the RDP of sampled Gaussian steps and reports (ε, δ).

    Parameters
    ----------
    orders:
        The Rényi orders to track (default: Opacus' and TF-Privacy's orders).

    Attributes
    ----------
    history:
        ``(noise_multiplier, sample_rate, steps)`` triples, consecutive equal mechanisms merged.
    """

    def __init__(self, *, orders: Sequence[float] = DEFAULT_ORDERS) -> None:
        self.orders: tuple[float, ...] = tuple(float(a) for a in orders)
        self.history: list[tuple[float, float, int]] = []

    def step(self, *, noise_multiplier: float, sample_rate: float, steps: int = 1) -> None:
        """Record ``steps`` rounds of the Gaussian mechanism with these parameters."""
        if steps < 0:
            raise ConfigError(f"steps={steps!r} is negative", hint="record 0 or more rounds")
        # Validates the parameters now, not at the first get_epsilon.
        _rdp_per_step(float(noise_multiplier), float(sample_rate), self.orders)
        if self.history and self.history[-1][:2] == (noise_multiplier, sample_rate):
            last = self.history.pop()
            steps += last[2]
        self.history.append((float(noise_multiplier), float(sample_rate), steps))

    def rdp(self) -> list[float]:
        """The accumulated RDP at each of :attr:`orders`."""
        total = [0.0] * len(self.orders)
        for noise_multiplier, sample_rate, steps in self.history:
            per_step = _rdp_per_step(noise_multiplier, sample_rate, self.orders)
            total = [t + steps * r for t, r in zip(total, per_step, strict=True)]
        return total

    def get_privacy_spent(self, *, delta: float) -> tuple[float, float]:
        """Return ``(epsilon, best_order)`` spent so far at ``delta`` (Balle et al. 2020)."""
        return rdp_to_epsilon(orders=self.orders, rdp=self.rdp(), delta=delta)

    def get_epsilon(self, delta: float) -> float:
        """Return the ε spent so far at ``delta`` (0.0 before any step)."""
        if not self.history:
            return 0.0
        return self.get_privacy_spent(delta=delta)[0]


def gaussian_epsilon(
    *,
    noise_multiplier: float,
    steps: int,
    delta: float,
    sample_rate: float = 1.0,
    accountant: str | None = None,
) -> float:
    """ε at ``delta`` after ``steps`` rounds of the (Poisson-sampled) Gaussian mechanism.

    Parameters
    ----------
    noise_multiplier:
        Noise standard deviation over the unit's L2 sensitivity (clip norm).
    steps:
        Number of rounds (compositions).
    delta:
        Target δ.
    sample_rate:
        Poisson sampling rate of the unit (``1.0``: every unit in every round).
    accountant:
        :data:`RDP` or :data:`GDP`; ``None``: :func:`accountant_for` the sample rate.

    Examples
    --------
    Unsampled, one step, z = 1: the RDP curve is alpha/2.

    >>> round(gaussian_epsilon(noise_multiplier=1.0, steps=1, delta=1e-5, accountant="rdp"), 4)
    4.7285
    >>> round(gaussian_epsilon(noise_multiplier=1.0, steps=1, delta=1e-5), 4)  # exact
    4.3772
    """
    if (accountant or accountant_for([sample_rate])) == GDP:
        _check_gdp(sample_rate)
        if steps < 0:
            raise ConfigError(f"steps={steps!r} is negative", hint="count rounds from 0 upwards")
        return gdp_epsilon(composed_mu([noise_multiplier] * steps), delta)
    rdp = RDPAccountant()
    rdp.step(noise_multiplier=noise_multiplier, sample_rate=sample_rate, steps=steps)
    return rdp.get_epsilon(delta)


def _check_gdp(sample_rate: float) -> None:
    if sample_rate != 1.0:
        raise ConfigError(
            f"the exact Gaussian accountant (gdp) at sample rate {sample_rate:g}",
            hint="gdp holds for sample rate 1 only; subsampled rounds use rdp",
        )


def gaussian_noise_multiplier(
    *,
    target_epsilon: float,
    steps: int,
    delta: float,
    sample_rate: float = 1.0,
    tolerance: float = 1e-3,
    accountant: str | None = None,
) -> float:
    """The smallest noise multiplier whose ε stays <= ``target_epsilon``.

    Under :data:`RDP`, bisection (within ``tolerance``) on the monotone map
    ``noise_multiplier -> epsilon`` (as Opacus' ``get_noise_multiplier``); under :data:`GDP`
    (``None``: :func:`accountant_for` the sample rate) the exact ``sqrt(steps) / mu`` of
    :func:`~mpcrec.privacy.gdp.gdp_mu`, to 1e-12. The result always satisfies the target.

    Examples
    --------
    >>> z = gaussian_noise_multiplier(target_epsilon=8.0, steps=2000, delta=1e-5,
    ...                               sample_rate=0.04)
    >>> round(z, 2)
    1.36
    >>> round(gaussian_noise_multiplier(target_epsilon=8.0, steps=1, delta=1e-5), 4)
    0.6002
    >>> round(gaussian_noise_multiplier(target_epsilon=8.0, steps=1, delta=1e-5,
    ...                                 accountant="rdp"), 4)
    0.6377
    """
    if not target_epsilon > 0.0:
        raise ConfigError(f"target_epsilon={target_epsilon!r} must be > 0", hint="e.g. 8.0")
    chosen = accountant or accountant_for([sample_rate])

    def eps(z: float) -> float:
        return gaussian_epsilon(
            noise_multiplier=z,
            steps=steps,
            delta=delta,
            sample_rate=sample_rate,
            accountant=chosen,
        )

    if chosen == GDP:
        _check_gdp(sample_rate)
        z = math.sqrt(steps) / gdp_mu(target_epsilon, delta)
        while eps(z) > target_epsilon:  # rounding of the division: a few ulps at most
            z = math.nextafter(z, math.inf)
        return z
    low, high = 0.0, 1.0
    while eps(high) > target_epsilon:
        low, high = high, 2 * high
        if high > 1e6:
            raise ConfigError(
                f"no noise multiplier reaches epsilon={target_epsilon} in {steps} steps",
                hint="raise the budget or run fewer rounds",
            )
    while high - low > tolerance:
        mid = (low + high) / 2
        if eps(mid) > target_epsilon:
            low = mid
        else:
            high = mid
    return high
