"""The demo report's privacy sentence: one wording (mpcrec.demo_privacy.privacy_sentence),
each mechanism its own clause on who takes part in a round."""

from __future__ import annotations

from mpcrec import demo_dpals, demo_privacy

UNIT = "unit of privacy: one user's whole history at their instance"


def test_dp_fedavg_says_its_sampling_rate_and_dp_als_every_user() -> None:
    report = {"dp": True, "epsilon": 7.91234, "noise_multiplier": 3.21}
    assert demo_privacy.privacy_line(report) == (
        "privacy: user-level epsilon 7.912 at delta 1e-05 (declared budget 8); "
        f"{UNIT} (q = 0.2, C_u = 0.1, noise multiplier 3.21)"
    )
    assert demo_dpals.privacy_line(report) == (
        "privacy: user-level epsilon 7.912 at delta 1e-05 (declared budget 8); "
        f"{UNIT} (DP-ALS: every user in every round, each user's statistics bounded to "
        "C_u = 0.1, noise multiplier 3.21)"
    )


def test_dp_als_with_a_count_release_names_both_multipliers() -> None:
    report = {"dp": True, "epsilon": 8.0, "noise_multiplier": 0.6158}
    line = demo_dpals.privacy_line({**report, "count_noise_multiplier": 2.6843})

    assert line == (
        "privacy: user-level epsilon 8.000 at delta 1e-05 (declared budget 8); "
        f"{UNIT} (DP-ALS: every user in every round, each user's item counts and statistics "
        "bounded to C_u = 0.1, the count release at noise multiplier 2.6843, the statistics, "
        "noise multiplier 0.6158)"
    )


def test_an_unknown_epsilon_or_noise_is_shown_as_such() -> None:
    line = demo_dpals.privacy_line({"dp": True})
    assert "user-level epsilon None at delta" in line and "noise multiplier ?)" in line


def test_without_dp_each_says_what_is_left() -> None:
    no_dp = "privacy: [bold red]no differential privacy[/] (--no-dp): epsilon = inf; "
    assert demo_privacy.privacy_line({"dp": False}) == no_dp + (
        "secure aggregation hides each instance's update, nothing bounds what the model "
        "reveals about one user"
    )
    assert demo_dpals.privacy_line({"dp": False}) == no_dp + (
        "DP-ALS statistics summed without noise: nothing bounds what the model reveals about "
        "one user"
    )
