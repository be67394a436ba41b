"""The federation's public parameters refuse values they cannot keep."""

from __future__ import annotations

import math

import pytest

from mpcrec.errors import ConfigError
from mpcrec.federation.spec import PrivacyPromise


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"epsilon_budget": 0.0}, "epsilon_budget 0.0"),
        ({"epsilon_budget": math.inf}, "finite"),
        ({"delta": 0.0}, "delta 0.0"),
        ({"delta": 1.0}, "delta 1.0"),
        ({"unit": "user"}, "'user' is not implemented"),
    ],
)
def test_privacy_promise_refuses_bad_values(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as bad:
        PrivacyPromise(**fields)  # type: ignore[arg-type]
    assert words in bad.value.message and bad.value.hint
