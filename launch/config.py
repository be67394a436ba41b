"""``federation.yaml``: how a launcher listens, where it keeps state, and the round rules.

Example::

    listen: 0.0.0.0:7443
    state_dir: state/launcher
    tls: {cert: pki/launcher.pem, key: pki/launcher.key, ca: pki/ca.pem}
    model: {n_items: 1682, dim: 32, aggregation: secure, server_lr: 1.0,
            server_momentum: 0.0, clip_norm: 10.0, noise_multiplier: 4.0}
    # range_bound defaults to 16 * clip_norm (the wrap guard); max_weight to 1e6
    rounds: {committee_size: 3, min_contributors: 3, cooldown: 2, dealer: false,
             commit_s: 10, reveal_s: 10, collect_s: 60, compute_s: 120}
    schedule: {rounds: 0, interval_s: 0, init_seed: 0, init_scale: 0.1}
    privacy: {epsilon_budget: 8.0, delta: 1.0e-5, unit: instance}
    # or user level (the default of the shipped configs): each instance samples its users
    # with user_rate and clips each one's influence to user_clip_norm at home; the
    # user-level noise multiplier is derived from the budget and schedule.rounds, or given
    # privacy: {unit: user, epsilon_budget: 8.0, delta: 1.0e-5, user_rate: 0.2,
    #           user_clip_norm: 0.1}
    beacon: {url: "https://api.drand.sh/<chain hash>", chain_info: drand-chain.json}
    # model: seqrec without DP only: the co-view Gram release before training (issue 16)
    # ease: {lambda: 100.0, weight: 0.2, clip_counts: 16384, slice_values: 450000}

The ``beacon`` section is required (:class:`~mpcrec.federation.beacon_http.BeaconConfig`):
the chain's HTTP base and its pinned ``/info`` document, or the named opt-out
``beacon: {unsafe_commit_reveal_only: true}``.

Relative paths are relative to the file. Without ``privacy.epsilon_budget`` (or with it
``null``) the federation makes no differential-privacy promise. The file is read by
:func:`mpcrec.federation.config_file.load_config`: every setting is typed by the sections'
dataclasses (:class:`~mpcrec.federation.spec.FederationSpec`,
:class:`~launch.round.RoundPolicy`, :class:`~launch.schedule.Schedule`,
:class:`~mpcrec.federation.spec.PrivacyPromise`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from launch.budget import PrivacyBudget
from launch.round import RoundPolicy
from launch.schedule import Schedule
from mpcrec.crypto.pki import CertPaths
from mpcrec.errors import ConfigError
from mpcrec.federation.beacon_http import BeaconConfig
from mpcrec.federation.config_file import load_config
from mpcrec.federation.dpals_noise import COUNT_ROUNDS, dpals_multipliers
from mpcrec.federation.spec import (
    EaseSection,
    FederationSpec,
    PrivacyPromise,
    user_noise_multiplier,
)
from mpcrec.privacy.budget import USER
from mpcrec.secure.validation import check_parameters

#: The least ``range_bound / clip_norm`` a default node takes part in (honest rejections below
#: 1e-7: docs/secure-round.md section 5; :class:`mpcrec.node.config.PrivacyFloor`).
MIN_RANGE_RATIO = 13.0
TLS_HINT = "tls: {cert, key, ca}; `mpcrec pki` makes a local CA and certificates"


@dataclass(frozen=True)
class LauncherConfig:
    """A launcher's whole configuration (the module docstring shows the file).

    Attributes
    ----------
    listen:
        ``HOST:PORT`` of the gRPC service.
    tls:
        The launcher's certificate, key and the federation's CA.
    spec, policy, schedule, privacy:
        The ``model``, ``rounds``, ``schedule`` and ``privacy`` sections.
    beacon:
        The randomness beacon every round is bound to (or the named opt-out).
    state_dir:
        Where the store and the launcher's keys live.
    """

    listen: str
    tls: CertPaths = field(metadata={"hint": TLS_HINT})
    spec: FederationSpec = field(metadata={"key": "model", "hint": "model: {n_items, dim}"})
    policy: RoundPolicy = field(default_factory=RoundPolicy, metadata={"key": "rounds"})
    schedule: Schedule = field(default_factory=Schedule)
    privacy: PrivacyPromise = field(default_factory=PrivacyPromise)
    beacon: BeaconConfig = field(default_factory=BeaconConfig)
    state_dir: Path = Path("state/launcher")
    ease: EaseSection | None = None

    def __post_init__(self) -> None:
        """Refuse a wrap guard the committee cannot run or nodes would refuse, and a declared
        budget the configuration cannot keep for a single round."""
        if self.ease is not None:
            self._set_ease(self.ease)
        self._check_wrap_guard()
        if self.privacy.unit == USER:
            self._set_user_level()
        budget, spec = self.privacy.epsilon_budget, self.spec
        if budget is None:
            return
        if spec.aggregation != "secure":
            raise ConfigError(
                f"`privacy.epsilon_budget` {budget:g} with `model.aggregation` "
                f"{spec.aggregation!r}: committee members see every update and the noise "
                "comes from the public round seed, so no differential privacy holds",
                hint="use `aggregation: secure`, or leave `epsilon_budget` out",
            )
        mechanism = spec.mechanism
        if PrivacyBudget(self.privacy, mechanism=mechanism, spent=[]).spent():
            one_round = PrivacyBudget(self.privacy, mechanism=mechanism, spent=[mechanism])
            raise ConfigError(
                f"`privacy.epsilon_budget` {budget:g} cannot pay for a single round: "
                f"`model.noise_multiplier` {spec.noise_multiplier:g} spends epsilon "
                f"{one_round.epsilon():.3f} per round at delta {self.privacy.delta:g}",
                hint="raise `model.noise_multiplier` (mpcrec.privacy.accountant."
                "gaussian_noise_multiplier finds one for a budget and a number of rounds) "
                "or the budget",
            )

    def _set_ease(self, ease: EaseSection) -> None:
        """The ``ease:`` section: refused under any DP promise (an unnoised Gram is not
        private), else set in the spec (and so in the signed round parameters)."""
        if self.privacy.declared or self.privacy.unit == USER:
            raise ConfigError(
                "an `ease:` section with a `privacy:` promise: the co-view Gram is released "
                "without noise, which is not differentially private (the DP release is a "
                "design only: docs/privacy-accounting.md)",
                hint="leave `ease:` out under DP, or drop privacy.epsilon_budget",
            )
        object.__setattr__(self, "spec", ease.applied(self.spec))

    def _set_user_level(self) -> None:
        """``privacy: {unit: user}``: the spec's noise becomes the user-level one (derived
        from the budget and ``schedule.rounds`` unless given) at per-user sensitivity."""
        p, spec = self.privacy, self.spec
        if spec.noise_multiplier:
            raise ConfigError(
                f"`model.noise_multiplier` {spec.noise_multiplier:g} with `privacy.unit: "
                "user`: at user level the noise is set in the privacy section",
                hint="remove model.noise_multiplier; give privacy.noise_multiplier or let "
                "the budget and schedule.rounds derive it",
            )
        assert p.user_clip_norm is not None and p.user_rate is not None
        if p.user_clip_norm > spec.clip_norm:
            raise ConfigError(
                f"`privacy.user_clip_norm` {p.user_clip_norm:g} is above `model.clip_norm` "
                f"{spec.clip_norm:g} (the bound on an instance's whole sum)",
                hint="raise model.clip_norm (it bounds the sum of the sampled users' updates)",
            )
        z, z_count = self._user_multipliers()
        user = replace(
            spec,
            noise_multiplier=z,
            count_noise_multiplier=z_count,
            sensitivity=USER,
            user_clip_norm=p.user_clip_norm,
            user_rate=p.user_rate,
        )
        object.__setattr__(self, "spec", user)

    def _user_multipliers(self) -> tuple[float, float]:
        """``(z, z_count)``: a ``dpals`` federation at rate 1 whose noise is derived runs the
        count release first (:mod:`mpcrec.federation.dpals_noise`), anything else one
        multiplier for every round (``z_count`` 0)."""
        p, rounds = self.privacy, self.schedule.rounds
        if self.spec.model != "dpals" or p.noise_multiplier is not None or p.user_rate != 1.0:
            return user_noise_multiplier(p, rounds), 0.0
        if rounds != COUNT_ROUNDS:
            raise ConfigError(
                f"`model: dpals` at user level with `schedule.rounds` {rounds}: its noise is "
                f"derived for the count release and the statistics, {COUNT_ROUNDS} rounds",
                hint=f"set schedule.rounds: {COUNT_ROUNDS}, or give privacy.noise_multiplier "
                "(one release of statistics per round, no count release)",
            )
        assert p.epsilon_budget is not None
        return dpals_multipliers(p.epsilon_budget, p.delta)

    def _check_wrap_guard(self) -> None:
        spec = self.spec
        if spec.aggregation != "secure" or spec.bound == 0:
            return  # plaintext, or the named opt-out (nodes refuse it by default)
        check_parameters(spec.contribution_size, spec.clip_norm, spec.bound)  # fits the 64-bit ring
        if spec.bound < MIN_RANGE_RATIO * spec.clip_norm:
            raise ConfigError(
                f"`model.range_bound` {spec.bound:g} is below {MIN_RANGE_RATIO:g} * clip_norm "
                f"({MIN_RANGE_RATIO * spec.clip_norm:g}): honest contributions would be "
                "rejected, and nodes refuse such rounds (floor-range-check)",
                hint="leave range_bound out (16 * clip_norm) or lower clip_norm",
            )

    @classmethod
    def load(cls, path: Path) -> LauncherConfig:
        """Read and check ``federation.yaml``."""
        return load_config(cls, path)
