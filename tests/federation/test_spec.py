"""The federation's public parameters refuse values they cannot keep."""

from __future__ import annotations

import math

import pytest

from mpcrec.errors import ConfigError
from mpcrec.federation.spec import PrivacyPromise, user_noise_multiplier
from mpcrec.privacy.accountant import gaussian_epsilon

USER: dict[str, object] = {
    "unit": "user",
    "epsilon_budget": 8.0,
    "user_rate": 0.2,
    "user_clip_norm": 0.1,
}


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"epsilon_budget": 0.0}, "epsilon_budget 0.0"),
        ({"epsilon_budget": math.inf}, "finite"),
        ({"delta": 0.0}, "delta 0.0"),
        ({"delta": 1.0}, "delta 1.0"),
        ({"unit": "household"}, "'household' is not implemented"),
        ({"unit": "user"}, "needs epsilon_budget, user_rate and user_clip_norm"),
        ({"unit": "user", "epsilon_budget": 8.0, "user_rate": 0.2}, "user_clip_norm"),
        (USER | {"user_rate": 0.0}, "user_rate 0 must be in (0, 1]"),
        (USER | {"user_rate": 1.5}, "user_rate 1.5"),
        (USER | {"user_clip_norm": -1.0}, "user_clip_norm -1"),
        (USER | {"user_clip_norm": math.nan}, "user_clip_norm nan"),
        (USER | {"noise_multiplier": 0.0}, "privacy.noise_multiplier 0.0"),
        ({"epsilon_budget": 8.0, "user_rate": 0.2}, "belong to unit: user"),
    ],
)
def test_privacy_promise_refuses_bad_values(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as bad:
        PrivacyPromise(**fields)  # type: ignore[arg-type]
    assert words in bad.value.message and bad.value.hint


def test_the_user_level_noise_is_derived_from_the_budget_and_the_rounds() -> None:
    promise = PrivacyPromise(**USER)  # type: ignore[arg-type]
    z = user_noise_multiplier(promise, 30)
    spent = gaussian_epsilon(noise_multiplier=z, steps=30, delta=1e-5, sample_rate=0.2)
    assert 7.9 < spent <= 8.0
    assert user_noise_multiplier(PrivacyPromise(**USER | {"noise_multiplier": 3.0}), 30) == 3.0  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"schedule\.rounds"):
        user_noise_multiplier(promise, 0)
