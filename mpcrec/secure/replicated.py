"""Dealer-free binary AND for CrypTen's ``replicated`` protocol (3 members).

CrypTen 0.4.1 routes every binary AND (used by A2B and comparisons) through
``beaver.AND``, which asks the configured tuple provider for triples even when
``cfg.mpc.protocol == "replicated"``; with the default TFP provider member 0 then knows the
triples and can unmask everything. :func:`install` replaces ``beaver.AND`` with the ABY3
AND on replicated shares (each member sends its share once to the next member), re-randomised
with a pseudo-random XOR sharing of zero as ABY3 section 3.2 prescribes (CrypTen's own
``replicated.AND`` omits that step), and makes any remaining provider call an error, so a
``replicated`` session can never silently fall back to a dealer.
"""

from __future__ import annotations

from typing import Any

from mpcrec.crypten_compat import load_crypten

_ORIGINAL: dict[str, Any] = {}


def replicated_and(x: Any, y: Any) -> Any:
    """``x & y`` for binary shared tensors of the same size (ABY3, re-randomised)."""
    from crypten.mpc.primitives import BinarySharedTensor
    from crypten.mpc.primitives.replicated import replicate_shares

    (x1, x2), (y1, y2) = replicate_shares([x.share, y.share])
    z = x.shallow_copy()
    zero = BinarySharedTensor.PRZS(x1.size(), device=x1.device).share
    z.share = (x1 & y1) ^ (x2 & y1) ^ (x1 & y2) ^ zero
    return z


def _no_dealer(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("replicated sessions have no dealer: a tuple provider was requested")


def install() -> None:
    """Route binary ANDs to :func:`replicated_and` and forbid the tuple provider."""
    crypten = load_crypten()
    from crypten.mpc.primitives import beaver

    if not _ORIGINAL:
        _ORIGINAL["AND"] = beaver.AND
        _ORIGINAL["provider"] = crypten.mpc.get_default_provider
    beaver.AND = replicated_and
    crypten.mpc.get_default_provider = _no_dealer


def uninstall() -> None:
    """Restore CrypTen's Beaver AND and provider lookup (for dealer-based sessions)."""
    crypten = load_crypten()
    from crypten.mpc.primitives import beaver

    if _ORIGINAL:
        beaver.AND = _ORIGINAL["AND"]
        crypten.mpc.get_default_provider = _ORIGINAL["provider"]
