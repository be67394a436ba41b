"""``privacy: {unit: user}`` in federation.yaml: the round parameters it signs, the noise it
derives from the budget and the planned rounds, and the settings it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from launch.config import LauncherConfig
from mpcrec.errors import ConfigError
from mpcrec.privacy.budget import epsilon_spent, rounds_within_budget

MODEL = "{n_items: 3, dim: 2, aggregation: secure, clip_norm: 10.0}"
PRIVACY = "{unit: user, epsilon_budget: 8.0, delta: 1.0e-5, user_rate: 0.2, user_clip_norm: 0.1}"


def _load(
    tmp_path: Path, *, model: str = MODEL, privacy: str = PRIVACY, rounds: int = 30
) -> LauncherConfig:
    path = tmp_path / "federation.yaml"
    path.write_text(
        "listen: 127.0.0.1:1\ntls: {cert: a, key: b, ca: c}\n"
        f"model: {model}\nprivacy: {privacy}\nschedule: {{rounds: {rounds}}}\n"
        "beacon: {unsafe_commit_reveal_only: true}\n"
    )
    return LauncherConfig.load(path)


def test_a_user_level_budget_signs_the_unit_and_derives_z_for_the_planned_rounds(
    tmp_path: Path,
) -> None:
    config = _load(tmp_path)
    params = config.spec.params(committee_size=3, min_contributors=3)

    assert (params.sensitivity, params.user_clip_norm, params.user_rate) == ("user", 0.1, 0.2)
    assert config.spec.mechanism == (params.noise_multiplier, 0.2)
    # the 30 planned rounds fit the budget, and the noise is not much more than they need
    assert rounds_within_budget([], config.spec.mechanism, delta=1e-5, budget=8.0) >= 30
    assert epsilon_spent([config.spec.mechanism] * 30, delta=1e-5) > 7.9


def test_a_given_user_level_noise_multiplier_is_used_as_it_is(tmp_path: Path) -> None:
    config = _load(tmp_path, privacy=PRIVACY.replace("}", ", noise_multiplier: 2.5}"), rounds=0)

    assert config.spec.noise_multiplier == 2.5 and config.spec.sensitivity == "user"


@pytest.mark.parametrize(
    ("model", "privacy", "rounds", "words"),
    [
        (MODEL, PRIVACY, 0, "needs schedule.rounds"),
        (MODEL.replace("}", ", noise_multiplier: 4.0}"), PRIVACY, 30, "set in the privacy section"),
        (MODEL.replace("10.0", "0.05"), PRIVACY, 30, "above `model.clip_norm`"),
        (MODEL.replace("secure", "plaintext"), PRIVACY, 30, "no differential privacy holds"),
        (MODEL, PRIVACY.replace("0.2", "2.0"), 30, "user_rate 2 must be in (0, 1]"),
        (
            MODEL,
            PRIVACY.replace(", noise", "").replace("}", ", noise_multiplier: 0.01}"),
            30,
            "cannot pay for a single round",
        ),
    ],
)
def test_user_level_settings_the_federation_cannot_keep_are_refused(
    tmp_path: Path, model: str, privacy: str, rounds: int, words: str
) -> None:
    with pytest.raises(ConfigError) as bad:
        _load(tmp_path, model=model, privacy=privacy, rounds=rounds)
    assert words in bad.value.message


def test_the_launcher_budget_stops_after_the_planned_user_level_rounds(tmp_path: Path) -> None:
    from launch.budget import PrivacyBudget

    config = _load(tmp_path, rounds=10)
    budget = PrivacyBudget(config.privacy, mechanism=config.spec.mechanism, spent=[])
    affordable = budget.affordable
    assert affordable is not None and affordable >= 10
    for _ in range(affordable):
        assert not budget.spent()
        budget.record_revealed()

    assert budget.spent() and budget.epsilon() <= 8.0


DPALS = "{n_items: 1682, dim: 8, aggregation: secure, clip_norm: 40.0, model: dpals}"
DPALS_PRIVACY = PRIVACY.replace("user_rate: 0.2", "user_rate: 1.0")


def test_a_dpals_federation_signs_the_count_release_and_the_statistics_split_of_one_budget(
    tmp_path: Path,
) -> None:
    """Both multipliers from the budget by the exact split (counts 5 %): the launcher's
    budget affords the count release, then exactly one round of statistics."""
    from launch.budget import PrivacyBudget

    config = _load(tmp_path, model=DPALS, privacy=DPALS_PRIVACY, rounds=2)
    params = config.spec.params(committee_size=3, min_contributors=3)
    budget = PrivacyBudget.of_rounds(config.privacy, params, spent=[])

    assert round(params.noise_multiplier, 4) == 0.6158
    assert round(params.count_noise_multiplier, 3) == 2.684
    assert params.release_mechanism(0) == (params.count_noise_multiplier, 1.0)
    assert params.release_mechanism(1) == (params.noise_multiplier, 1.0)
    assert budget.affordable == 2
    budget.record_revealed()
    assert budget.affordable == 1
    budget.record_revealed()
    assert budget.spent() and 7.999 < budget.epsilon() <= 8.0


@pytest.mark.parametrize(
    ("privacy", "rounds", "count"),
    [
        (DPALS_PRIVACY.replace("}", ", noise_multiplier: 0.7}"), 0, False),  # z given: one
        (PRIVACY, 5, False),  # rate 0.2: the split is exact at rate 1 only; one release
        (DPALS_PRIVACY, 2, True),
    ],
)
def test_only_a_derived_dpals_budget_at_rate_1_runs_the_count_release(
    tmp_path: Path, privacy: str, rounds: int, count: bool
) -> None:
    config = _load(tmp_path, model=DPALS, privacy=privacy, rounds=rounds)

    assert bool(config.spec.count_noise_multiplier) is count


def test_a_dpals_count_release_needs_its_two_rounds_planned(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as bad:
        _load(tmp_path, model=DPALS, privacy=DPALS_PRIVACY, rounds=1)

    assert "2 rounds" in bad.value.message and bad.value.hint is not None
