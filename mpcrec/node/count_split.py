"""A node's check of a ``dpals`` federation's two noise multipliers (rule ``floor-user-dp``).

With a count release the round parameters sign two user-level multipliers: the count
release's ``z_count`` and the statistics rounds' ``z``. The launcher derives both from one
budget (:func:`mpcrec.federation.dpals_noise.dpals_multipliers`: ``split_budget``,
``count_share`` of ``1 / z1^2`` to the counts, the settings in code). The node
recomputes the ε the pair spends together and derives the pair again from that ε with the
same function: a launcher that moves budget from one release to the other (the count round
less noise and the statistics more, or the reverse) signs a pair below that derivation for
one of the two, and is refused. A count release not at user level is refused too, whatever
the floor's ``require_user_level`` (its counts' multiplier is no instance-level floor's to
read: :func:`~mpcrec.node.user_dp.check_user_floor` calls this check at instance level
as well since 2026-12-02, ``split``; before, this refusal was never reached there). The
total is the node's ``max_user_epsilon``'s to judge:
the parameters name the whole plan (the count release, then ``ALS_DP.iterations`` rounds of
statistics: :func:`planned_releases`), so :func:`~mpcrec.node.user_dp.check_user_floor`
holds the plan's ε to the cap at the count round already, before any upload (a pair of
less noise than the cap affords, split exactly, passes this check), and
:class:`~mpcrec.node.user_dp.UserBudget` counts each round at its own multiplier.
"""

from __future__ import annotations

from mpcrec.federation.dpals_noise import dpals_multipliers
from mpcrec.federation.round_params import RoundParams
from mpcrec.model.tuned_dpals import ALS_DP
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.privacy.budget import Mechanism, epsilon_spent

RULE = "floor-user-dp"

#: Relative slack for the accountant's own root finding (far below any budget shift).
TOLERANCE = 1e-6


def planned_releases(params: RoundParams) -> list[Mechanism]:
    """The releases ``params`` plan for one user: with a count release, the counts at
    ``z_count`` and ``ALS_DP.iterations`` rounds of statistics at ``z`` (every user in each);
    otherwise one round of their mechanism."""
    if not params.count_noise_multiplier:
        return [params.mechanism]
    count = (params.count_noise_multiplier, 1.0)
    return [count] + [(params.noise_multiplier, 1.0)] * ALS_DP.iterations


def check_count_split(params: RoundParams, delta: float) -> None:
    """Refuse a pair of multipliers that is not the derivation's (module docstring)."""
    z, z_count = params.noise_multiplier, params.count_noise_multiplier
    if not z_count:
        return
    if not params.user_level or params.user_rate != 1.0 or z <= 0:
        raise RoundRefused(
            RULE,
            f"a dpals count release (z_count {z_count:g}) needs user level at rate 1 and a "
            f"statistics multiplier > 0 (sensitivity {params.sensitivity!r}, rate "
            f"{params.user_rate:g}, z {z:g})",
        )
    epsilon = epsilon_spent(planned_releases(params), delta=delta)
    want_z, want_count = dpals_multipliers(epsilon, delta)
    if z < want_z * (1 - TOLERANCE) or z_count < want_count * (1 - TOLERANCE):
        raise RoundRefused(
            RULE,
            f"the count release's z {z_count:g} and the statistics' z {z:g} spend epsilon "
            f"{epsilon:.4f} at delta {delta:g}, split as {want_count:.4f} and {want_z:.4f} "
            f"({ALS_DP.count_share:g} of the budget to the counts): the launcher moved "
            "budget between the two releases, or gave one of them less noise",
        )
