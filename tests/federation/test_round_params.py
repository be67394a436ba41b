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


USER_PARAMS = RoundParams(
    **{**PARAMS.to_json(), "sensitivity": "user", "user_clip_norm": 0.1, "user_rate": 0.2}
)


def test_the_digest_covers_the_privacy_unit_and_its_parameters() -> None:
    """The unit, C_u and q are signed (each change moves the digest); instance-level
    parameters hash as they did before the user-level fields existed."""
    variants = [
        RoundParams(**{**USER_PARAMS.to_json(), name: value})
        for name, value in [("user_clip_norm", 0.2), ("user_rate", 0.5), ("noise_multiplier", 2.0)]
    ]
    digests = {p.digest for p in [PARAMS, USER_PARAMS, *variants]}

    assert len(digests) == 5
    assert "user_rate" not in PARAMS.to_json() and USER_PARAMS.to_json()["user_rate"] == 0.2
    assert RoundParams.from_json(USER_PARAMS.to_json()) == USER_PARAMS
    # a wire message carries zeros for an instance-level round: the same parameters
    assert RoundParams(**PARAMS.to_json(), user_clip_norm=0.0, user_rate=0.0) == PARAMS


def test_user_level_noise_is_z_times_the_user_clip_norm_and_q_is_the_sample_rate() -> None:
    """Adding or removing one user moves one instance's sum by at most C_u: sigma is
    z * C_u * max w, and the unit's sample rate is q (instances: 1)."""
    assert USER_PARAMS.noise_std([0.25] * 4) == pytest.approx(1.0 * 0.1 * 0.25)
    assert USER_PARAMS.mechanism == (1.0, 0.2) and PARAMS.mechanism == (1.0, 1.0)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"user_clip_norm": 0.0}, "user_clip_norm 0"),
        ({"user_clip_norm": 11.0}, "clip_norm 10"),
        ({"user_rate": 0.0}, "user_rate 0"),
        ({"user_rate": math.inf}, "user_rate inf"),
        ({"sensitivity": "household"}, "unknown"),
    ],
)
def test_unusable_user_level_parameters_are_refused(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        RoundParams(**{**USER_PARAMS.to_json(), **changes})  # type: ignore[arg-type]


def test_the_model_kind_enters_the_digest_only_when_it_is_not_mf() -> None:
    from dataclasses import replace

    from mpcrec.proto import federation_pb2 as pb
    from mpcrec.proto.convert_rounds import _params_from_pb

    dpals = replace(PARAMS, model="dpals")

    assert "model" not in PARAMS.to_json()  # every earlier digest is unchanged
    assert dpals.to_json()["model"] == "dpals" and dpals.digest != PARAMS.digest
    assert RoundParams.from_json(dpals.to_json()) == dpals
    assert _params_from_pb(pb.RoundParams(**PARAMS.to_json())) == PARAMS  # "" reads as mf
    assert _params_from_pb(pb.RoundParams(**dpals.to_json())) == dpals
    with pytest.raises(ConfigError, match="unknown"):
        replace(PARAMS, model="gnn")


def test_a_dpals_spec_contributes_its_statistics_and_has_no_server_step() -> None:
    from mpcrec.model.dpals_release import release_size

    spec = FederationSpec(n_items=100, dim=4, model="dpals")

    assert spec.size == 400 and spec.contribution_size == release_size(100, 4) != 400
    assert FederationSpec(n_items=100, dim=4).contribution_size == 400
    with pytest.raises(ConfigError, match="server_momentum"):
        FederationSpec(n_items=100, dim=4, model="dpals", server_momentum=0.5)


def test_a_count_release_multiplier_enters_the_digest_only_when_set_and_only_for_dpals() -> None:
    from dataclasses import replace

    from mpcrec.proto import federation_pb2 as pb
    from mpcrec.proto.convert_rounds import _params_from_pb

    dpals = replace(PARAMS, model="dpals")
    counted = replace(dpals, count_noise_multiplier=2.5)

    assert "count_noise_multiplier" not in dpals.to_json()  # one-release digests unchanged
    assert counted.digest != dpals.digest and RoundParams.from_json(counted.to_json()) == counted
    assert _params_from_pb(pb.RoundParams(**counted.to_json())) == counted
    assert _params_from_pb(pb.RoundParams(**dpals.to_json())) == dpals  # 0 on the wire: none
    # the round on version 0 is the count release, at its own multiplier
    assert counted.release_noise_multiplier(0) == 2.5
    assert counted.release_noise_multiplier(1) == dpals.release_noise_multiplier(0)
    assert counted.noise_std([0.5, 0.5], 0) == 2.5 / dpals.noise_multiplier * dpals.noise_std(
        [0.5, 0.5]
    )
    with pytest.raises(ConfigError, match="count release"):
        replace(PARAMS, count_noise_multiplier=2.5)  # an mf round has none
