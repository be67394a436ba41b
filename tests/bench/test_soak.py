"""``mpcrec bench soak``'s verdict: growth per 1,000 rounds after the warm-up, and which
series exceed their tolerance."""

from __future__ import annotations

from typing import Any

from mpcrec.bench.soak import TOLERANCE, beyond_tolerance, growth_per_1000


def _samples(rss_per_round: float, *, rounds: range, jump_before: int = 0) -> list[dict[str, Any]]:
    """Samples of one node whose memory grows ``rss_per_round`` MiB a round (and jumps by
    500 MiB before round ``jump_before``, as a process does while it starts)."""
    return [
        {
            "round": r,
            "processes": {
                "node": {
                    "rss_mib": 100 + rss_per_round * r + (0 if r >= jump_before else -500),
                    "threads": 9,
                    "open_files": 8 + (r % 2),  # jitter, no trend
                }
            },
        }
        for r in rounds
    ]


def test_a_leak_of_10_mib_per_1000_rounds_fails_and_flat_series_pass() -> None:
    # Execute
    slopes = growth_per_1000(_samples(0.01, rounds=range(0, 2001, 25)), warm_up=100)

    # Assert
    assert abs(slopes["node"]["rss_mib"] - 10.0) < 1e-6
    assert abs(slopes["node"]["threads"]) < 1e-9
    assert abs(slopes["node"]["open_files"]) < 0.1
    assert beyond_tolerance(slopes) == [
        f"node rss_mib +10.00 per 1000 rounds (tolerance {TOLERANCE['rss_mib']:g})"
    ]


def test_the_warm_up_is_left_out_of_the_fit() -> None:
    # Prepare: the process starts (a 500 MiB jump) within the warm-up, then stays flat
    samples = _samples(0.0, rounds=range(0, 1001, 25), jump_before=100)

    # Execute
    with_warm_up = growth_per_1000(samples, warm_up=100)
    without = growth_per_1000(samples, warm_up=0)

    # Assert
    assert with_warm_up["node"]["rss_mib"] == 0.0 and not beyond_tolerance(with_warm_up)
    assert without["node"]["rss_mib"] > TOLERANCE["rss_mib"]


def test_a_process_with_fewer_than_three_samples_has_no_slope() -> None:
    assert growth_per_1000(_samples(1.0, rounds=range(100, 126, 25)), warm_up=100) == {}
