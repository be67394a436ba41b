"""A party process in which torch's random number generators raise.

:func:`guarded_party_main` is :func:`committees.party.party_main` after
:func:`forbid_torch_randomness`: every torch sampling function, every in-place sampling
method of ``torch.Tensor`` and the ``torch.Generator`` constructor raise
:class:`TorchRandomnessUsed` for the rest of the process's life, so any draw a session
makes through torch (joining, dealing, the round itself) makes that party reply with an
error naming the call. It is installed after torch and CrypTen are imported (import-time
draws are not secrets of any session).
"""

from __future__ import annotations

from typing import Any

import torch

from committees.party import party_main
from mpcrec.crypten_compat import load_crypten

#: ``torch`` functions that sample (from a given or the default generator).
FUNCTIONS = (
    "randint",
    "rand",
    "randn",
    "randperm",
    "normal",
    "bernoulli",
    "multinomial",
    "poisson",
    "rand_like",
    "randn_like",
    "randint_like",
    "manual_seed",
    "seed",
)
#: ``torch.Tensor`` methods that sample in place.
METHODS = (
    "normal_",
    "random_",
    "uniform_",
    "bernoulli_",
    "exponential_",
    "geometric_",
    "log_normal_",
    "cauchy_",
)


class TorchRandomnessUsed(AssertionError):
    """A party drew randomness from one of torch's generators."""


def _refuse(name: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise TorchRandomnessUsed(f"secret-dependent draw through torch's generators: {name}")

    return refuse


def forbid_torch_randomness() -> None:
    """Make every torch sampling entry point and ``torch.Generator()`` raise."""
    for name in FUNCTIONS:
        setattr(torch, name, _refuse(f"torch.{name}"))
    for name in METHODS:
        setattr(torch.Tensor, name, _refuse(f"torch.Tensor.{name}"))
    torch.Generator = _refuse("torch.Generator")  # type: ignore[misc,assignment]


def guarded_party_main(conn: Any) -> None:
    """:func:`committees.party.party_main` with torch's randomness forbidden."""
    load_crypten()
    forbid_torch_randomness()
    party_main(conn)
