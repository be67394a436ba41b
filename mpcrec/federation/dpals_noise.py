"""The two user-level noise multipliers of a ``dpals`` federation with a count release.

``ALS_DP`` (:mod:`mpcrec.model.tuned_dpals`) releases noisy item counts once, with
``count_share`` of the budget, then ``iterations`` rounds of statistics with the rest:
:func:`mpcrec.privacy.joint.split_budget` (the exact GDP accountant: every user in every
release, rate 1) gives both multipliers. The launcher derives the pair it signs with
:func:`dpals_multipliers` from the declared budget; every node derives it again from the ε
the signed pair spends (:mod:`mpcrec.node.count_split`) and refuses a pair that moves budget
from one release to the other.

>>> z, z_count = dpals_multipliers(8.0, 1e-5)
>>> round(z, 4), round(z_count, 3)
(0.6158, 2.684)
"""

from __future__ import annotations

from mpcrec.model.tuned_dpals import ALS_DP
from mpcrec.privacy.joint import split_budget

#: The rounds of a ``dpals`` federation with a count release: the counts, then the
#: statistics rounds of ``ALS_DP``.
COUNT_ROUNDS = ALS_DP.iterations + 1


def dpals_multipliers(epsilon: float, delta: float) -> tuple[float, float]:
    """``(z_statistics, z_count)`` of ``ALS_DP``'s releases at user-level ``epsilon``."""
    z, z_count, _ = split_budget(
        epsilon=epsilon, delta=delta, rounds=ALS_DP.iterations, first_share=ALS_DP.count_share
    )
    return z, z_count
