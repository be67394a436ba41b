"""A node's privacy floor: the weakest round it contributes to or computes, checked before
either (``privacy_floor:`` in node.yaml, :class:`~mpcrec.node.config.PrivacyFloor`).

Every check raises :class:`~mpcrec.node.round_refusal.RoundRefused`; the daemon records it
and sends nothing for that step:

* ``params-mismatch``: the round's announced parameters (or their digest) are not the ones
  this node registered under, the ones it signs;
* ``floor-aggregation``: a ``plaintext`` round, unless ``allow_plaintext``;
* ``floor-range-check``: a secure round whose wrap guard is off or below
  ``min_range_ratio * clip_norm``;
* ``floor-min-contributors``: the signed minimum below this node's;
* ``floor-noise``: an instance-level noise multiplier below ``min_noise_multiplier``;
* ``floor-user-dp``: a round below the user-level minimums (:func:`mpcrec.node.user_dp.
  check_user_floor`: not user level while ``require_user_level``, a user-level ``z`` below
  ``min_user_noise_multiplier``, one round above ``max_user_epsilon``; a dpals count
  release not at user level at rate 1, off the split of one budget, or its two releases
  above ``max_user_epsilon``);

and once the weights are known a member rejects (a rejected contribution of the round, not
a refusal: :func:`drop_dominant`) any contributor above ``max_normalised_weight`` of the
round's total weight (logged as ``floor-weight``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.round_params import RoundParams
from mpcrec.node.config import PrivacyFloor
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.user_dp import check_user_floor

log = logging.getLogger("mpcrec.node")


def check_round(floor: PrivacyFloor, registered: RoundParams, ann: RoundAnnouncement) -> None:
    """Refuse ``ann`` unless it announces exactly the ``registered`` parameters and they
    meet ``floor``."""
    if ann.params_hash != registered.digest or ann.params != registered:
        raise RoundRefused(
            "params-mismatch",
            f"announced round parameters {ann.params} (digest {ann.params_hash.hex()[:16]}) "
            f"are not the ones registered: {registered}",
        )
    check_params(floor, registered)


def check_params(floor: PrivacyFloor, params: RoundParams) -> None:
    """Refuse round parameters below ``floor`` (module docstring)."""
    if params.aggregation != "secure" and not floor.allow_plaintext:
        raise RoundRefused(
            "floor-aggregation",
            f"aggregation {params.aggregation!r}: members would see every update",
            hint="privacy_floor: {allow_plaintext: true} takes part anyway (tests only)",
        )
    needed = floor.min_range_ratio * params.clip_norm
    guarded = params.range_bound > 0 and params.range_bound >= needed
    if params.aggregation == "secure" and floor.min_range_ratio > 0 and not guarded:
        raise RoundRefused(
            "floor-range-check",
            f"range_bound {params.range_bound:g} with clip_norm {params.clip_norm:g}: the wrap "
            f"guard needs range_bound >= {floor.min_range_ratio:g} * clip_norm = {needed:g}",
        )
    if params.min_contributors < floor.min_contributors:
        raise RoundRefused(
            "floor-min-contributors",
            f"min_contributors {params.min_contributors} < this node's {floor.min_contributors}",
        )
    z = params.noise_multiplier  # the replace-one multiplier at instance level:
    if params.user_level:  # std z * C_u * max w over a sensitivity of 2 * C * max w
        z = z * params.user_clip_norm / (2.0 * params.clip_norm)
    if z < floor.min_noise_multiplier:
        raise RoundRefused(
            "floor-noise",
            f"instance-level noise_multiplier {z:g} < this node's {floor.min_noise_multiplier:g}",
        )
    check_user_floor(floor, params)


def required_contributors(floor: PrivacyFloor, params: RoundParams) -> int:
    """The fewest accepted contributions this node lets a round publish."""
    return max(floor.min_contributors, params.min_contributors, 1)


def drop_dominant(
    floor: PrivacyFloor, envelopes: Sequence[Envelope], weights: dict[str, float]
) -> list[Envelope]:
    """The envelopes without those whose signed weight is above ``max_normalised_weight``
    of the usable contributions' total (one pass over that total); a dropped contribution
    is a rejected one of the round (weight ``0`` in ``weights``, which is updated).

    Rejecting the contribution, not refusing the round: a contributor that declares a huge
    weight must not stop every round (with once-per-base-model, a refused round would stall
    the federation at that model for good), and an instance carrying most of the weight
    would be all but read off the published model. The decision uses the signed weights
    only, so members with the same floor (the default everywhere) agree on it; members
    with different floors may disagree, and then the round fails to publish (nothing leaks).
    """
    total = sum(e.weight for e in envelopes)
    if total <= 0:
        return list(envelopes)
    kept = []
    for env in envelopes:
        share = env.weight / total
        if share > floor.max_normalised_weight:
            log.warning(
                "rejected %s (floor-weight): it carries %.3g of the round's weight, above "
                "max_normalised_weight %g",
                env.contributor,
                share,
                floor.max_normalised_weight,
            )
            weights[env.contributor] = 0.0
        else:
            kept.append(env)
    return kept
