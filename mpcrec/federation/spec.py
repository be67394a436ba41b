"""The public parameters of a federation, which every instance learns when it registers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from mpcrec.errors import ConfigError
from mpcrec.federation.round_params import DEFAULT_MODEL, RoundParams
from mpcrec.privacy.accountant import gaussian_noise_multiplier
from mpcrec.privacy.budget import REPLACE_ONE, USER, Mechanism

AGGREGATIONS = ("plaintext", "secure")

#: The wrap guard's default bound, in clip norms: ``B = 16 C`` rejects an honest
#: contribution with probability about ``1e-12`` (docs/secure-round.md section 5).
RANGE_RATIO = 16.0


@dataclass(frozen=True)
class FederationSpec:
    """What the model looks like and how the committee aggregates.

    Parameters
    ----------
    n_items, dim:
        The global item-embedding table (the public video catalogue).
    aggregation:
        ``"secure"`` (the default): members receive sealed shares and aggregate inside
        CrypTen; ``"plaintext"``: members receive the updates themselves and sum them (the
        comparison baseline, no privacy: an explicit opt-out, refused by every node whose
        privacy floor does not say ``allow_plaintext: true``).
    server_lr, server_momentum:
        The server optimiser (:class:`mpcrec.model.server.ServerSGD`).
    clip_norm:
        Contributions with a larger L2 norm are rejected by the committee.
    range_bound:
        ``B`` of the committee's coordinate (wrap) check (:mod:`mpcrec.secure.validation`);
        by default (``None``) ``RANGE_RATIO * clip_norm``; ``0`` turns it off (an opt-out
        nodes refuse by default). Without it, values chosen to wrap the ring can fool the
        norm check; ``B >= 13 * clip_norm`` keeps honest rejections below 1e-7.
    noise_multiplier:
        ``z``: the committee adds Gaussian noise of standard deviation
        ``z * 2 * clip_norm * max_i w_i`` to the weighted sum (its replace-one sensitivity:
        replacing one instance's clipped contribution moves the sum by up to
        ``2 * clip_norm * w_i``; ``w_i`` the normalised public weights), hidden from any
        ``k - 1`` colluding members (:mod:`mpcrec.secure.noise`). Instance-level DP; under
        ``sensitivity: user`` the user-level multiplier (std ``z * user_clip_norm * max w``).
    max_weight:
        The largest raw weight (training events) a contributor may declare; contributors
        clamp to it and members reject any weight above it.
    sensitivity, user_clip_norm, user_rate:
        ``"replace-one"`` (instance level) or ``"user"``: each instance samples its users
        with rate ``user_rate`` and clips each one's influence to ``user_clip_norm`` at home
        (:class:`~mpcrec.federation.round_params.RoundParams`). The launcher sets them from
        the ``privacy:`` section (``unit: user``), not from ``model:``.
    model:
        The model kind (:data:`~mpcrec.federation.round_params.MODELS`): ``"mf"`` (BPR-MF
        with the server step) or ``"dpals"`` (private ALS: each instance contributes its
        scaled statistics, :attr:`contribution_size` values, the committee reveals their
        noisy sum and every member solves the public item factors from it,
        :mod:`mpcrec.model.dpals_release`; no server step: ``server_lr`` 1, no momentum);
        ``"seqrec"``: row ``k`` is video ``k``'s
        context then item embedding (:mod:`mpcrec.node.seqrec_layout`), so ``dim`` is twice
        :class:`~mpcrec.model.seqrec.SeqConfig`'s and a row is still one catalogue video.
    count_noise_multiplier:
        ``dpals`` with a head of the catalogue: the user-level ``z`` of the count release
        (the round on the initial model; :meth:`RoundParams.release_noise_multiplier`); 0:
        none. The launcher derives it with ``noise_multiplier`` from the budget.
    ease_lambda, ease_weight, ease_clip_counts, ease_slice_values:
        ``seqrec`` without DP: the co-view Gram release (:class:`RoundParams`); the
        launcher sets them from the ``ease:`` section (:class:`EaseSection`), 0: none.
    """

    n_items: int
    dim: int
    aggregation: str = "secure"
    server_lr: float = 1.0
    server_momentum: float = 0.0
    clip_norm: float = 10.0
    range_bound: float | None = None
    noise_multiplier: float = 0.0
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
        object.__setattr__(self, "model", self.model or "mf")
        if self.n_items < 1 or self.dim < 1:
            raise ConfigError(f"model of {self.n_items} x {self.dim} must not be empty")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(
                f"aggregation {self.aggregation!r} is unknown",
                hint="use one of: " + ", ".join(AGGREGATIONS),
            )
        if self.range_bound is None:
            object.__setattr__(self, "range_bound", RANGE_RATIO * self.clip_norm)
        if self.noise_multiplier < 0:
            raise ConfigError(f"noise_multiplier {self.noise_multiplier} must be >= 0")
        if self.bound < 0:
            raise ConfigError(f"range_bound {self.range_bound} must be >= 0 (0: no check)")
        if self.server_lr <= 0 or not 0 <= self.server_momentum < 1 or self.clip_norm <= 0:
            raise ConfigError(
                f"server_lr {self.server_lr}, server_momentum {self.server_momentum}, "
                f"clip_norm {self.clip_norm}: need lr > 0, 0 <= momentum < 1, clip_norm > 0"
            )
        self.params(committee_size=1, min_contributors=1)  # max_weight, model checked
        if self.model == "dpals" and (self.server_lr != 1.0 or self.server_momentum):
            raise ConfigError(
                f"model dpals with server_lr {self.server_lr:g}, server_momentum "
                f"{self.server_momentum:g}: the item factors are solved from the sum",
                hint="leave server_lr (1.0) and server_momentum (0.0) out",
            )

    @property
    def bound(self) -> float:
        """The wrap guard's ``B`` (``0``: off)."""
        return float(self.range_bound or 0.0)

    def params(self, *, committee_size: int, min_contributors: int) -> RoundParams:
        """The round parameters of this spec under the launcher's round rules."""
        return RoundParams(
            aggregation=self.aggregation,
            clip_norm=self.clip_norm,
            range_bound=self.bound,
            noise_multiplier=self.noise_multiplier,
            min_contributors=min_contributors,
            committee_size=committee_size,
            server_lr=self.server_lr,
            server_momentum=self.server_momentum,
            max_weight=self.max_weight,
            sensitivity=self.sensitivity,
            user_clip_norm=self.user_clip_norm,
            user_rate=self.user_rate,
            model=self.model,
            count_noise_multiplier=self.count_noise_multiplier,
            ease_lambda=self.ease_lambda,
            ease_weight=self.ease_weight,
            ease_clip_counts=self.ease_clip_counts,
            ease_slice_values=self.ease_slice_values,
        )

    @property
    def mechanism(self) -> Mechanism:
        """``(noise_multiplier, sample_rate)`` of every round of this spec at its own unit
        (the sample rate is ``user_rate`` at user level, :data:`SAMPLE_RATE` otherwise)."""
        return self.params(committee_size=1, min_contributors=1).mechanism

    def noise_std(self, weights: list[float], base_version: int = -1) -> float:
        """Standard deviation of the noise on the weighted sum with normalised ``weights``
        in the round on model ``base_version``: ``z * 2 * clip_norm * max_i w_i``
        (replace-one, :meth:`RoundParams.noise_std`)."""
        return self.params(committee_size=1, min_contributors=1).noise_std(weights, base_version)

    @property
    def size(self) -> int:
        """Values in the model (and in every update of model kind ``mf``)."""
        return self.n_items * self.dim

    @property
    def contribution_size(self) -> int:
        """Values in every contribution (what the committee sums): :attr:`size` for ``mf``,
        the statistics and user count for ``dpals``."""
        if self.model == "dpals":
            from mpcrec.model.dpals_release import release_size

            return release_size(self.n_items, self.dim)
        return self.size

    @property
    def largest_upload(self) -> int:
        """Values in the largest contribution of any round: :attr:`contribution_size`, or a
        Gram slice's ``ease_slice_values`` when larger."""
        return max(self.contribution_size, self.ease_slice_values)


@dataclass(frozen=True)
class EaseSection:
    """The ``ease:`` section of federation.yaml: the co-view Gram release (issue 16).

    ``lam`` (key ``lambda``): EASE's ridge; ``weight``: its share in a logged-in viewer's
    mix; ``clip_counts``: the committee's norm bound on one instance's slice, in counts;
    ``slice_values``: the most counts one round sums (the triangle is cut into
    ``ceil(n(n+1)/2 / slice_values)`` rounds on base versions ``0 .. S-1``). Refused under
    differential privacy (:func:`~mpcrec.federation.round_params.check_ease`).
    """

    lam: float = field(default=100.0, metadata={"key": "lambda"})
    weight: float = 0.2
    clip_counts: float = 16384.0
    slice_values: int = 450_000

    def applied(self, spec: FederationSpec) -> FederationSpec:
        """``spec`` with this release (:class:`ConfigError` if it cannot run one)."""
        return replace(
            spec,
            ease_lambda=self.lam,
            ease_weight=self.weight,
            ease_clip_counts=self.clip_counts,
            ease_slice_values=self.slice_values,
        )


PRIVACY_UNITS = ("instance", USER)

#: The sampling rate of the unit in each round: every registered instance is asked to take
#: part (whoever is online is not Poisson sampling), so no amplification is claimed. Members
#: sign it in their results (:func:`mpcrec.federation.result.result_entry`).
SAMPLE_RATE = 1.0


@dataclass(frozen=True)
class PrivacyPromise:
    """The differential-privacy promise an operator declares (``privacy:`` in federation.yaml).

    The launcher logs it in the signed ``config`` entry, stops opening rounds before one
    would spend more than ``epsilon_budget``, and the auditor holds the log to it.

    Parameters
    ----------
    epsilon_budget:
        The most ε the published rounds may spend together at ``delta``; ``None``: no
        differential-privacy promise (the auditor reports the ε spent and judges nothing).
    delta:
        The δ at which ε is computed and promised.
    unit:
        Whose presence the guarantee hides: ``"instance"`` (one PeerTube instance and all its
        users: the committee clips and noises each instance's whole update) or ``"user"``
        (one user's whole history at their instance: each instance samples its users with
        ``user_rate`` and clips each one's influence to ``user_clip_norm`` at home, the
        committee adds noise at that sensitivity; docs/privacy-accounting.md).
    user_rate, user_clip_norm:
        ``unit: user`` only (both required there): the public Poisson rate ``q`` and the
        per-user clip norm ``C_u``.
    noise_multiplier:
        ``unit: user`` only: the user-level ``z``; ``None`` (the default) derives it from
        the budget and the schedule's rounds (:func:`user_noise_multiplier`).

    Examples
    --------
    >>> PrivacyPromise(epsilon_budget=8.0).declared
    True
    >>> PrivacyPromise(epsilon_budget=-1.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mpcrec.errors.ConfigError: epsilon_budget -1.0 must be a finite number > 0...
    """

    epsilon_budget: float | None = None
    delta: float = 1e-5
    unit: str = "instance"
    user_rate: float | None = None
    user_clip_norm: float | None = None
    noise_multiplier: float | None = None

    def __post_init__(self) -> None:
        budget = self.epsilon_budget
        if budget is not None and not (math.isfinite(budget) and 0 < budget <= 1e9):
            raise ConfigError(
                f"epsilon_budget {budget} must be a finite number > 0 (at most 1e9)",
                hint="leave epsilon_budget out (or null) to declare no promise, e.g. 8.0",
            )
        if not (math.isfinite(self.delta) and 0 < self.delta < 1):
            raise ConfigError(
                f"delta {self.delta} must be between 0 and 1 (exclusive)",
                hint="well below 1 / the number of units, e.g. 1e-5",
            )
        if self.unit not in PRIVACY_UNITS:
            raise ConfigError(
                f"privacy unit {self.unit!r} is not implemented",
                hint="use: " + ", ".join(PRIVACY_UNITS) + " (user level needs per-user "
                "clipping at every instance; see docs/privacy-accounting.md)",
            )
        self._check_user_fields()

    def _check_user_fields(self) -> None:
        user = (self.user_rate, self.user_clip_norm, self.noise_multiplier)
        if self.unit != USER:
            if any(v is not None for v in user):
                raise ConfigError(
                    "privacy: user_rate, user_clip_norm and noise_multiplier belong to "
                    f"unit: user, not unit: {self.unit}",
                    hint="set unit: user, or leave them out (instance level: "
                    "model.noise_multiplier)",
                )
            return
        if self.epsilon_budget is None or self.user_rate is None or self.user_clip_norm is None:
            raise ConfigError(
                "privacy: unit: user needs epsilon_budget, user_rate and user_clip_norm",
                hint="e.g. privacy: {unit: user, epsilon_budget: 8.0, delta: 1.0e-5, "
                "user_rate: 0.2, user_clip_norm: 0.1}",
            )
        if self.noise_multiplier is not None and not (
            math.isfinite(self.noise_multiplier) and self.noise_multiplier > 0
        ):
            raise ConfigError(
                f"privacy.noise_multiplier {self.noise_multiplier} must be a finite number > 0",
                hint="leave it out to derive it from the budget and schedule.rounds",
            )
        RoundParams(  # the ranges of q and C_u, checked once
            aggregation="secure",
            clip_norm=math.inf,
            range_bound=0.0,
            noise_multiplier=0.0,
            min_contributors=1,
            committee_size=1,
            sensitivity=USER,
            user_clip_norm=self.user_clip_norm,
            user_rate=self.user_rate,
        )

    @property
    def declared(self) -> bool:
        """Whether a budget is declared (a promise the launcher keeps and auditors check)."""
        return self.epsilon_budget is not None


def user_noise_multiplier(promise: PrivacyPromise, rounds: int) -> float:
    """The user-level ``z`` of ``promise``: the one it gives, or the smallest that keeps
    ``rounds`` rounds at rate ``user_rate`` within ``epsilon_budget`` at ``delta``
    (:func:`~mpcrec.privacy.accountant.gaussian_noise_multiplier`).

    >>> p = PrivacyPromise(epsilon_budget=8.0, unit="user", user_rate=0.2, user_clip_norm=0.1)
    >>> round(user_noise_multiplier(p, 30), 2)
    1.07
    """
    if promise.noise_multiplier is not None:
        return promise.noise_multiplier
    if rounds < 1 or promise.epsilon_budget is None or promise.user_rate is None:
        raise ConfigError(
            "privacy: unit: user without noise_multiplier needs schedule.rounds >= 1 "
            "(the noise is derived from the budget and the planned rounds)",
            hint="set schedule.rounds, or give privacy.noise_multiplier",
        )
    return gaussian_noise_multiplier(
        target_epsilon=promise.epsilon_budget,
        steps=rounds,
        delta=promise.delta,
        sample_rate=promise.user_rate,
    )
