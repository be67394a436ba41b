"""A member's weights: each contributor's, read from its signed envelope, never from the
launcher.

The launcher streams every envelope with a weight (:rpc:`FetchShares`); the contributor
signed its own weight, and the digest of the round parameters, inside the envelope's header
(:func:`mpcrec.crypto.envelope.signed_terms`). A member takes the signed weight and:

* rejects the contribution (as a rejected contribution of the round, not an abort) when the
  envelope does not verify, names other round parameters, or signs a weight that is not
  finite, not positive or above ``max_weight``;
* refuses the round (``weight-mismatch``) when the launcher streamed another weight than the
  one signed: the launcher lied, and the member will not sign a round it misreported.

The weights it used go into its signed result (``0`` for a rejected contribution).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from mpcrec.errors import ProtocolError
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.round_params import RoundParams, usable_weight
from mpcrec.node.round_refusal import RoundRefused

log = logging.getLogger("mpcrec.node")

#: Reads ``(weight, params_hash)`` from an envelope, checking its author's signature.
SignedTerms = Callable[[Envelope], tuple[float, bytes]]


def signed_weights(
    ann: RoundAnnouncement,
    envelopes: Sequence[Envelope],
    params: RoundParams,
    terms: SignedTerms,
) -> tuple[list[Envelope], dict[str, float]]:
    """The usable envelopes (weight: the signed one) and the weight used for each frozen
    contributor of ``ann`` (``0``: rejected, or never streamed)."""
    used = dict.fromkeys(ann.contributors, 0.0)
    usable: list[Envelope] = []
    for env in envelopes:
        if env.contributor not in used or used[env.contributor] > 0:
            continue  # not frozen in this round, or streamed twice: never counted twice
        try:
            weight, params_hash = terms(env)
        except ProtocolError as err:
            log.warning("round %d: rejected %s: %s", ann.round_id, env.contributor, err)
            continue
        if params_hash != params.digest:
            why = "sealed under other round parameters"
            log.warning("round %d: rejected %s: %s", ann.round_id, env.contributor, why)
            continue
        if not usable_weight(weight, params.max_weight):
            log.warning(
                "round %d: rejected %s: signed weight %r (need 0 < w <= %g)",
                ann.round_id,
                env.contributor,
                weight,
                params.max_weight,
            )
            continue
        if env.weight != weight:
            raise RoundRefused(
                "weight-mismatch",
                f"the launcher streamed weight {env.weight!r} for {env.contributor}, "
                f"which signed {weight!r}",
            )
        usable.append(dataclasses.replace(env, weight=weight))
        used[env.contributor] = weight
    return usable, used
