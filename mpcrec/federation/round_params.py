"""The round parameters: every setting that affects a round's privacy or its result, as one
signed object.

The launcher builds one :class:`RoundParams` from its configuration, logs it (with its
:attr:`~RoundParams.digest`) in the signed ``config`` entry and announces it with every round.
Each contributor signs the digest (and its own weight) in its contribution entry and inside
every envelope's signed header; each member signs it (and the weights it used) in its result.
``mpcrec audit verify`` holds every round to the config entry in force (rules ``params`` and
``weights``), and a node refuses a round whose parameters differ from the ones it registered
under or fall below its privacy floor (:mod:`mpcrec.node.floor`).

Examples
--------
>>> p = RoundParams(aggregation="secure", clip_norm=1.0, range_bound=16.0,
...                 noise_multiplier=1.0, min_contributors=3, committee_size=3)
>>> len(p.digest), p.noise_std([0.5, 0.25, 0.25])  # replace-one: z * 2C * max w
(32, 1.0)
>>> RoundParams.from_json(p.to_json()) == p
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from mpcrec.audit.round_digest import params_digest
from mpcrec.errors import ConfigError
from mpcrec.privacy.budget import REPLACE_ONE

#: The sensitivity conventions (:data:`~mpcrec.privacy.budget.REPLACE_ONE`: replacing one
#: contributor's clipped update moves the weighted sum by at most ``2 * C * w_i``,
#: docs/privacy-accounting.md).
SENSITIVITIES = (REPLACE_ONE,)


@dataclass(frozen=True)
class RoundParams:
    """What every round of a configuration runs with (see the module docstring).

    Parameters
    ----------
    aggregation:
        ``"secure"`` (sealed shares, CrypTen) or ``"plaintext"`` (the named opt-out).
    clip_norm, range_bound:
        ``C`` of the committee's exact norm check, ``B`` of its wrap guard (``0``: off).
    noise_multiplier:
        ``z``: the committee's noise has standard deviation :meth:`noise_std`.
    min_contributors, committee_size:
        Fewest accepted contributions a round publishes; members per committee.
    server_lr, server_momentum:
        The server optimiser.
    max_weight:
        The largest raw weight a contributor may sign (it clamps its own; members reject
        any weight above it, not finite, or not positive).
    sensitivity:
        The noise's sensitivity convention (:data:`REPLACE_ONE`).
    """

    aggregation: str
    clip_norm: float
    range_bound: float
    noise_multiplier: float
    min_contributors: int
    committee_size: int
    server_lr: float = 1.0
    server_momentum: float = 0.0
    max_weight: float = 1e6
    sensitivity: str = REPLACE_ONE

    def __post_init__(self) -> None:
        for f in fields(self):  # one JSON form (10 and 10.0 must not hash apart)
            kind = {"int": int, "float": float}.get(str(f.type))
            if kind is not None:
                object.__setattr__(self, f.name, kind(getattr(self, f.name)))
        if self.sensitivity not in SENSITIVITIES:
            raise ConfigError(f"sensitivity {self.sensitivity!r} is unknown")
        if not (math.isfinite(self.max_weight) and self.max_weight > 0):
            raise ConfigError(
                f"max_weight {self.max_weight} must be a finite number > 0",
                hint="the most training events one instance may count in a round, e.g. 1e6",
            )

    def noise_std(self, weights: Sequence[float]) -> float:
        """The noise's standard deviation on the weighted sum with normalised ``weights``:
        ``z * 2 * C * max_i w_i`` (replace-one sensitivity)."""
        return self.noise_multiplier * 2.0 * self.clip_norm * max(weights, default=0.0)

    def to_json(self) -> dict[str, Any]:
        """The JSON form logged in the config entry."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoundParams:
        """From :meth:`to_json` output (:class:`ConfigError` if a field is missing)."""
        names = {f.name for f in fields(cls)}
        missing = names - set(data)
        if missing:
            raise ConfigError(f"round parameters without {sorted(missing)}")
        return cls(**{k: data[k] for k in names})

    @property
    def digest(self) -> bytes:
        """SHA-256 over the domain tag and the canonical JSON of :meth:`to_json`."""
        return params_digest(self.to_json())


def usable_weight(weight: float, max_weight: float) -> bool:
    """Whether a signed raw weight may enter a round: finite, ``> 0`` and ``<= max_weight``."""
    return math.isfinite(weight) and 0 < weight <= max_weight
