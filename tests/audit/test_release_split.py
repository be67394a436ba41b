"""The auditor holds a ``dpals`` config entry's two multipliers to the exact split of its
declared budget, whether or not a round under it was revealed (``user_budget``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mpcrec.audit import entries
from mpcrec.audit.checks.release_split import budget_split, check_release_split
from mpcrec.audit.entries import LogEntry
from mpcrec.federation.dpals_noise import dpals_multipliers
from mpcrec.federation.spec import FederationSpec

EPSILON, DELTA = 8.0, 1e-5
Z, Z_COUNT = dpals_multipliers(EPSILON, DELTA)
SPEC = FederationSpec(
    n_items=1682,
    dim=8,
    aggregation="secure",
    clip_norm=40.0,
    sensitivity="user",
    user_clip_norm=0.1,
    user_rate=1.0,
    model="dpals",
    noise_multiplier=Z,
    count_noise_multiplier=Z_COUNT,
)


def _config(z: float, z_count: float, *, budget: float | None = EPSILON, **spec: Any) -> LogEntry:
    params = replace(SPEC, noise_multiplier=z, count_noise_multiplier=z_count, **spec).params(
        committee_size=3, min_contributors=3
    )
    entry = entries.config(
        from_round=4,
        launcher_key=bytes(32),
        committee_size=3,
        cooldown=1,
        min_contributors=3,
        provider="replicated",
        delta=DELTA,
        epsilon_budget=budget,
        params=params.to_json(),
        params_hash=params.digest,
        privacy_unit="user",
        accountant="gdp",
    )
    return entry.at(7)


def test_the_auditors_split_is_the_launchers_and_the_declared_pair_holds() -> None:
    assert budget_split(EPSILON, DELTA) == (Z, Z_COUNT)
    assert check_release_split([_config(Z, Z_COUNT)]) == []
    assert check_release_split([_config(Z * 1.01, Z_COUNT * 1.01)]) == []  # more noise is fine
    assert check_release_split([_config(Z * 0.5, Z_COUNT * 0.5, budget=None)]) == []  # no promise


@pytest.mark.parametrize(
    ("z", "z_count", "words"),
    [
        (Z * 1.05, Z_COUNT * 0.7, "budget moved between the two releases: the plan spends"),
        (Z * 0.97, Z_COUNT * 3.0, "budget moved between the two releases: the plan spends"),
        (Z * 0.9, Z_COUNT, "less noise than that split: the plan spends epsilon 9.0396"),
        (Z * 0.99, Z_COUNT * 0.99, "less noise than that split: the plan spends epsilon 8.0978"),
    ],
)
def test_a_pair_below_the_declared_split_is_named_on_its_config_entry(
    z: float, z_count: float, words: str
) -> None:
    [finding] = check_release_split([_config(z, z_count)])

    assert (finding.rule, finding.index) == ("user_budget", 7)
    assert finding.message.startswith("round 4: the count release's z") and words in finding.message


@pytest.mark.parametrize("change", [{"user_rate": 0.5}, {"sensitivity": "replace-one"}])
def test_a_count_release_below_rate_one_or_at_instance_level_is_named(
    change: dict[str, Any],
) -> None:
    [finding] = check_release_split([_config(Z, Z_COUNT, **change)])

    assert "a count release needs user level at rate 1" in finding.message
