"""The round parameters: one object, one digest, the secure defaults, replace-one noise."""

from __future__ import annotations

import math

import pytest

from mpcrec.errors import ConfigError
from mpcrec.federation.round_params import RoundParams, usable_weight
from mpcrec.federation.spec import FederationSpec

PARAMS = RoundParams(
    aggregation="secure",
    clip_norm=10.0,
    range_bound=160.0,
    noise_multiplier=1.0,
    min_contributors=3,
    committee_size=3,
)


def test_the_digest_covers_every_field_and_not_the_spelling_of_numbers() -> None:
    same = RoundParams(
        aggregation="secure",
        clip_norm=10,
        range_bound=160,
        noise_multiplier=1,
        min_contributors=3,
        committee_size=3,
    )
    changed = [
        RoundParams(**{**PARAMS.to_json(), name: value})
        for name, value in [
            ("aggregation", "plaintext"),
            ("clip_norm", 11.0),
            ("range_bound", 0.0),
            ("noise_multiplier", 0.5),
            ("min_contributors", 2),
            ("committee_size", 4),
            ("server_lr", 0.5),
            ("server_momentum", 0.9),
            ("max_weight", 10.0),
        ]
    ]

    assert same.digest == PARAMS.digest and len(PARAMS.digest) == 32
    assert len({p.digest for p in changed} | {PARAMS.digest}) == len(changed) + 1
    assert RoundParams.from_json(PARAMS.to_json()) == PARAMS


def test_noise_is_calibrated_to_the_replace_one_sensitivity() -> None:
    """Replacing one contributor moves sum_i w_i x_i by up to 2 * C * w_i: sigma is
    z * 2 * C * max w (it was z * C * max w, half the sensitivity)."""
    spec = FederationSpec(n_items=2, dim=2, clip_norm=10.0, noise_multiplier=1.5)
    weights = [0.5, 0.25, 0.25]

    assert PARAMS.noise_std(weights) == pytest.approx(1.0 * 2 * 10.0 * 0.5)
    assert spec.noise_std(weights) == pytest.approx(1.5 * 2 * 10.0 * 0.5)


def test_the_federation_spec_defaults_to_secure_aggregation_with_the_wrap_guard_on() -> None:
    spec = FederationSpec(n_items=2, dim=2, clip_norm=3.0)

    assert spec.aggregation == "secure"
    assert spec.range_bound == pytest.approx(16 * 3.0)
    assert FederationSpec(n_items=2, dim=2, range_bound=0.0).bound == 0.0  # the opt-out
    params = spec.params(committee_size=3, min_contributors=3)
    assert (params.aggregation, params.range_bound, params.sensitivity) == (
        "secure",
        48.0,
        "replace-one",
    )


@pytest.mark.parametrize("weight", [math.inf, -math.inf, math.nan, 0.0, -1.0, 1e6 + 1])
def test_unusable_weights(weight: float) -> None:
    assert not usable_weight(weight, 1e6)
    assert usable_weight(1e6, 1e6) and usable_weight(1e-9, 1e6)


@pytest.mark.parametrize("max_weight", [0.0, math.inf, math.nan])
def test_max_weight_must_be_finite_and_positive(max_weight: float) -> None:
    with pytest.raises(ConfigError):
        FederationSpec(n_items=2, dim=2, max_weight=max_weight)
