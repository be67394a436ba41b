"""Replace-one sensitivity: the ε of a round follows the noise it actually had."""

from __future__ import annotations

import pytest

from mpcrec.privacy.budget import epsilon_spent, signed_mechanism


def test_a_result_that_names_no_convention_counts_at_half_its_multiplier() -> None:
    """Results signed before the convention had noise z * C * max w: against the replace-one
    sensitivity 2 * C * max w their multiplier is z / 2, so they spent more ε than z says."""
    legacy = {"noise_multiplier": 2.0, "sample_rate": 1.0}
    current = {**legacy, "sensitivity": "replace-one"}

    assert signed_mechanism(current) == (2.0, 1.0)
    assert signed_mechanism(legacy) == (1.0, 1.0)
    assert epsilon_spent([signed_mechanism(legacy)], delta=1e-5) == pytest.approx(
        epsilon_spent([(1.0, 1.0)], delta=1e-5)
    )
    assert epsilon_spent([signed_mechanism(legacy)], delta=1e-5) > epsilon_spent(
        [signed_mechanism(current)], delta=1e-5
    )
