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
>>> u = RoundParams(aggregation="secure", clip_norm=1.0, range_bound=16.0,
...                 noise_multiplier=2.0, min_contributors=3, committee_size=3,
...                 sensitivity="user", user_clip_norm=0.1, user_rate=0.2)
>>> round(u.noise_std([0.25] * 4), 6), u.sample_rate  # user level: z * C_u * max w
(0.05, 0.2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from mpcrec.audit.round_digest import params_digest
from mpcrec.errors import ConfigError
from mpcrec.privacy.budget import REPLACE_ONE, USER

#: The sensitivity conventions (:data:`~mpcrec.privacy.budget.REPLACE_ONE`: replacing one
#: contributor's clipped update moves the weighted sum by at most ``2 * C * w_i``;
#: :data:`~mpcrec.privacy.budget.USER`: adding or removing one user at one instance moves it
#: by at most ``C_u * w_i``; docs/privacy-accounting.md).
SENSITIVITIES = (REPLACE_ONE, USER)

#: The user-level fields: logged (and hashed) only under :data:`USER`, so the digest of
#: instance-level parameters is the one it was before they existed.
USER_FIELDS = ("user_clip_norm", "user_rate")

#: The Gram release's fields: logged (and hashed) only when ``ease_slice_values`` is set.
EASE_FIELDS = ("ease_lambda", "ease_weight", "ease_clip_counts", "ease_slice_values")

#: The model kinds a federation can train: ``mf`` (BPR-MF with the server SGD step),
#: ``dpals`` (private ALS: the committee sums statistics, the item solve is public:
#: :mod:`mpcrec.model.dpals_release`), ``seqrec`` (the order-aware model).
MODELS = ("mf", "dpals", "seqrec")
DEFAULT_MODEL = "mf"


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
        The noise's sensitivity convention (:data:`REPLACE_ONE` or :data:`USER`).
    user_clip_norm, user_rate:
        Under :data:`USER`: ``C_u``, the L2 bound every instance applies at home to each of
        its users' influence, and ``q``, the public Poisson rate at which it samples each of
        its users into a round (ignored, and reset to ``0`` and ``1``, otherwise).
    model:
        The model kind (:data:`MODELS`); logged (and hashed) only when not ``"mf"``, so
        every earlier digest is unchanged.
    count_noise_multiplier:
        ``dpals`` with a head of the catalogue only: the ``z`` of the count release, the
        round on the initial model (base version 0, :meth:`release_noise_multiplier`);
        ``noise_multiplier`` is then the statistics rounds'. Logged (and hashed) only when
        not ``0`` (``0``: no count release, every round at ``noise_multiplier``).
    ease_lambda, ease_weight, ease_clip_counts, ease_slice_values:
        ``seqrec`` without noise only: the co-view Gram release (issue 16,
        :mod:`mpcrec.model.item_gram`). The rounds on base versions ``0 .. S-1``
        (:meth:`gram_slices`) sum each instance's slice of its Gram's upper triangle
        exactly (at most ``ease_slice_values`` counts, each contribution's norm at most
        ``ease_clip_counts`` counts) and publish the base model unchanged; ``ease_lambda``
        and ``ease_weight`` are EASE's ridge and logged-in share at serving. Logged (and
        hashed) only when ``ease_slice_values`` is set (``0``: no Gram release).
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
    user_clip_norm: float = 0.0
    user_rate: float = 1.0
    model: str = DEFAULT_MODEL
    count_noise_multiplier: float = 0.0
    ease_lambda: float = 0.0
    ease_weight: float = 0.0
    ease_clip_counts: float = 0.0
    ease_slice_values: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):  # one JSON form (10 and 10.0 must not hash apart)
            kind = {"int": int, "float": float}.get(str(f.type))
            if kind is not None:
                object.__setattr__(self, f.name, kind(getattr(self, f.name)))
        if self.sensitivity not in SENSITIVITIES:
            raise ConfigError(f"sensitivity {self.sensitivity!r} is unknown")
        object.__setattr__(self, "model", self.model or "mf")
        if self.model not in MODELS:
            raise ConfigError(
                f"model kind {self.model!r} is unknown",
                hint="use one of: " + ", ".join(MODELS),
            )
        if self.sensitivity != USER:
            object.__setattr__(self, "user_clip_norm", 0.0)
            object.__setattr__(self, "user_rate", 1.0)
        else:
            _check_user_level(self.user_clip_norm, self.user_rate, self.clip_norm)
        if self.count_noise_multiplier and (
            self.model != "dpals" or not 0 < self.count_noise_multiplier < math.inf
        ):
            raise ConfigError(
                f"count_noise_multiplier {self.count_noise_multiplier:g}: a count release is "
                "a dpals round's, with a finite multiplier > 0"
            )
        if self.ease_slice_values or any(getattr(self, n) for n in EASE_FIELDS):
            check_ease(self)
        if not (math.isfinite(self.max_weight) and self.max_weight > 0):
            raise ConfigError(
                f"max_weight {self.max_weight} must be a finite number > 0",
                hint="the most training events one instance may count in a round, e.g. 1e6",
            )

    @property
    def user_level(self) -> bool:
        """Whether the unit of privacy is one user (:data:`USER`)."""
        return self.sensitivity == USER

    @property
    def sample_rate(self) -> float:
        """The sampling rate of the unit in each round: ``q`` at user level, ``1`` otherwise
        (every registered instance is asked: no amplification is claimed)."""
        return self.user_rate if self.user_level else 1.0

    @property
    def mechanism(self) -> tuple[float, float]:
        """``(noise_multiplier, sample_rate)`` at this round's own unit (what ε counts)."""
        return (self.noise_multiplier, self.sample_rate)

    def counts_round(self, base_version: int) -> bool:
        """Whether the round on model ``base_version`` is the count release (``dpals`` with
        a ``count_noise_multiplier``: the round on the initial model, version 0)."""
        return bool(self.count_noise_multiplier) and base_version == 0

    def release_noise_multiplier(self, base_version: int) -> float:
        """The ``z`` of the round on model ``base_version``: ``count_noise_multiplier`` for
        the count release, ``noise_multiplier`` otherwise."""
        if self.counts_round(base_version):
            return self.count_noise_multiplier
        return self.noise_multiplier

    def release_mechanism(self, base_version: int) -> tuple[float, float]:
        """:attr:`mechanism` of the round on model ``base_version``."""
        return (self.release_noise_multiplier(base_version), self.sample_rate)

    def noise_std(self, weights: Sequence[float], base_version: int = -1) -> float:
        """The noise's standard deviation on the weighted sum with normalised ``weights``:
        ``z * 2 * C * max_i w_i`` (replace-one), ``z * C_u * max_i w_i`` (user level), ``z``
        the one of the round on model ``base_version`` (:meth:`release_noise_multiplier`)."""
        sensitivity = self.user_clip_norm if self.user_level else 2.0 * self.clip_norm
        z = self.release_noise_multiplier(base_version)
        return z * sensitivity * max(weights, default=0.0)

    def to_json(self) -> dict[str, Any]:
        """The JSON form logged in the config entry (user fields only at user level)."""
        data = asdict(self)
        if not self.user_level:
            for name in USER_FIELDS:
                del data[name]
        if self.model == DEFAULT_MODEL:
            del data["model"]
        if not self.count_noise_multiplier:
            del data["count_noise_multiplier"]
        if not self.ease_slice_values:
            for name in EASE_FIELDS:
                del data[name]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RoundParams:
        """From :meth:`to_json` output (:class:`ConfigError` if a field is missing)."""
        names = {f.name for f in fields(cls)}
        missing = (
            names - set(data) - {*USER_FIELDS, *EASE_FIELDS, "model", "count_noise_multiplier"}
        )
        if missing:
            raise ConfigError(f"round parameters without {sorted(missing)}")
        return cls(**{k: data[k] for k in names if k in data})

    @property
    def ease(self) -> bool:
        """Whether the federation releases the co-view Gram (``ease_slice_values`` set)."""
        return bool(self.ease_slice_values)

    def gram_slices(self, n_items: int) -> int:
        """``S``, the Gram release's rounds for ``n_items`` videos (``0`` without one)."""
        if not self.ease:
            return 0
        total = n_items * (n_items + 1) // 2  # mpcrec.model.item_gram.gram_slices' count
        return -(-total // self.ease_slice_values)

    def gram_round(self, base_version: int, n_items: int) -> bool:
        """Whether the round on model ``base_version`` is one of the Gram release's slices
        (base versions ``0 .. S-1``, :meth:`gram_slices`)."""
        return 0 <= base_version < self.gram_slices(n_items)

    @property
    def digest(self) -> bytes:
        """SHA-256 over the domain tag and the canonical JSON of :meth:`to_json`."""
        return params_digest(self.to_json())


def usable_weight(weight: float, max_weight: float) -> bool:
    """Whether a signed raw weight may enter a round: finite, ``> 0`` and ``<= max_weight``."""
    return math.isfinite(weight) and 0 < weight <= max_weight


def check_ease(p: RoundParams) -> None:
    """A Gram release a round can run (:class:`ConfigError` naming why not otherwise)."""
    if p.model != "seqrec":
        raise ConfigError(f"an ease release with model kind {p.model!r}: it serves seqrec's mix")
    if p.user_level or p.noise_multiplier:
        raise ConfigError(
            "an ease section under differential privacy: the Gram is released unnoised, "
            "which is not private (the DP release is a design: docs/privacy-accounting.md)",
            hint="leave the ease section out, or run without DP (mpcrec demo --no-dp)",
        )
    if p.aggregation != "secure":
        raise ConfigError(
            f"an ease release with aggregation {p.aggregation!r}: only the committee's exact "
            "sum (secure) releases a Gram slice",
            hint="use aggregation: secure, or leave the ease section out",
        )
    if not 0 < p.ease_slice_values <= 2**27:
        raise ConfigError(f"ease slice_values {p.ease_slice_values} must be in [1, 2**27]")
    if not (math.isfinite(p.ease_lambda) and p.ease_lambda > 0):
        raise ConfigError(f"ease lambda {p.ease_lambda:g} must be a finite number > 0")
    if not 0 <= p.ease_weight <= 1:
        raise ConfigError(f"ease weight {p.ease_weight:g} must be in [0, 1]")
    if not (math.isfinite(p.ease_clip_counts) and 1 <= p.ease_clip_counts <= 2**31):
        raise ConfigError(
            f"ease clip_counts {p.ease_clip_counts:g} must be in [1, 2**31]",
            hint="the largest norm (in counts) of one instance's slice, e.g. 16384",
        )


def _check_user_level(user_clip_norm: float, user_rate: float, clip_norm: float) -> None:
    """User-level parameters a round can run with (:class:`ConfigError` otherwise)."""
    if not (math.isfinite(user_clip_norm) and 0 < user_clip_norm <= clip_norm):
        raise ConfigError(
            f"user_clip_norm {user_clip_norm:g} must be a finite number in (0, clip_norm "
            f"{clip_norm:g}]",
            hint="each user's influence is clipped to it at home, e.g. 0.1",
        )
    if not (math.isfinite(user_rate) and 0 < user_rate <= 1):
        raise ConfigError(
            f"user_rate {user_rate:g} must be in (0, 1]",
            hint="the Poisson rate at which each instance samples each user, e.g. 0.2",
        )
