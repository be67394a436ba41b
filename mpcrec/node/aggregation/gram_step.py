"""The Gram release's rounds at a node (issue 16; ``ease_*`` in the round parameters):
what a contributor sends and what a member computes and publishes.

The rounds on base versions ``0 .. S-1`` (:meth:`RoundParams.gram_round`) are the slices of
the co-view Gram's upper triangle (:func:`mpcrec.model.item_gram.gram_slices`, cut at the
round parameters' ``ease_slice_values``). In slice ``k``'s round:

* a contributor sends its own instance's slice ``k`` as ring units
  (:func:`mpcrec.secure.count_sum.count_values` of ``SeqrecTrainer.gram_counts()[k]``),
  weight ``1`` (:func:`gram_contribution`);
* the members run :func:`mpcrec.secure.count_sum.sum_spec` (weight 1 each, server step 1,
  no offset, no noise; norm bound and wrap guard in counts: :func:`gram_spec`), turn the
  revealed sum back into integer counts (refusing anything that is not exact) and publish
  the base model unchanged (:func:`gram_result`).

The member sends the revealed slice with its result and signs its digest
(:mod:`mpcrec.federation.gram_slice`); the launcher keeps it beside the version and every
node rebuilds the Gram from it (:mod:`mpcrec.node.gram_release`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from mpcrec.errors import ProtocolError
from mpcrec.federation.round_params import RoundParams
from mpcrec.model.item_gram import gram_slices
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.secure.count_sum import count_values, revealed_counts, sum_spec
from mpcrec.secure.program import RoundSpec

#: The weight every slice's contribution signs (the sum is unweighted).
GRAM_WEIGHT = 1.0


def gram_slice(params: RoundParams, base_version: int, n_items: int) -> slice | None:
    """The triangle's slice summed by the round on model ``base_version`` (``None``: not a
    Gram round)."""
    if not params.gram_round(base_version, n_items):
        return None
    return gram_slices(n_items, params.ease_slice_values)[base_version]


def gram_contribution(
    trainer: object, params: RoundParams, base_version: int, n_items: int
) -> tuple[npt.NDArray[np.float64], float] | None:
    """This instance's slice as ring units and :data:`GRAM_WEIGHT` (``None``: not a Gram
    round; a trainer without ``gram_counts`` is refused, ``model-kind``)."""
    part = gram_slice(params, base_version, n_items)
    if part is None:
        return None
    counts: Callable[[], npt.ArrayLike] | None = getattr(trainer, "gram_counts", None)
    if counts is None:
        raise RoundRefused(
            "model-kind",
            f"a Gram release round, but this node's trainer ({type(trainer).__name__}) has "
            "no co-view counts",
            hint="trainer: {kind: movielens, model: seqrec}",
        )
    triangle = np.asarray(counts())
    if triangle.size != n_items * (n_items + 1) // 2:
        raise RoundRefused(
            "model-kind", f"a Gram triangle of {triangle.size} values for {n_items} videos"
        )
    return count_values(triangle[part]), GRAM_WEIGHT


def gram_spec(
    params: RoundParams,
    *,
    round_id: int,
    base_version: int,
    n_items: int,
    contributors: int,
    min_contributors: int,
) -> RoundSpec | None:
    """The committee's round for the slice on model ``base_version`` (``None``: not a Gram
    round): the exact sum of ``contributors`` slices."""
    part = gram_slice(params, base_version, n_items)
    if part is None:
        return None
    return sum_spec(
        round_id,
        part.stop - part.start,
        contributors,
        clip_counts=params.ease_clip_counts,
        min_contributors=min_contributors,
    )


def gram_result(
    output: npt.ArrayLike, weights: tuple[float, ...], base: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """``(the published model, the released slice)``: the base unchanged and the revealed
    sum as integer counts (:class:`ProtocolError` unless every weight is 1 and the sum is
    exact: a member signs no slice it cannot vouch for)."""
    if any(w != GRAM_WEIGHT for w in weights):
        raise ProtocolError(f"a Gram slice's round with weights {sorted(set(weights))}, not 1")
    return np.array(base, dtype=np.float64, copy=True), revealed_counts(output)
