"""What this node contributes to a round, per model kind (``RoundParams.model``).

``dpals``: the trainer's scaled statistics (:mod:`mpcrec.model.dpals_release`; its counts
in a count release, on ``version`` 0: :mod:`mpcrec.model.dpals_counts`) with the
weight every instance signs; ``mf`` and ``seqrec``: :func:`~mpcrec.node.user_dp.home_update`
with the retired rows frozen; a Gram release's round (``seqrec`` with ``ease``), the
instance's slice of its co-view counts (:mod:`mpcrec.node.aggregation.gram_step`). A
round of a kind the trainer cannot train, or on a base of rows its fixed catalogue does
not have, is refused first (``model-kind``, :mod:`mpcrec.node.model_kind`).
"""

from __future__ import annotations

import numpy as np

from mpcrec.federation.round_params import RoundParams
from mpcrec.node.aggregation.gram_step import gram_contribution
from mpcrec.node.grown_round import RoundBase
from mpcrec.node.model_kind import check_model_kind, check_model_rows
from mpcrec.node.trainer import Matrix, Trainer
from mpcrec.node.user_dp import USER_WEIGHT, home_update


def contribution(
    trainer: Trainer, base: RoundBase, version: int, params: RoundParams
) -> tuple[Matrix, float]:
    """The update and weight this node contributes from the round's ``base`` (its rows grown
    with the catalogue) under ``params``."""
    check_model_kind(trainer, params)
    check_model_rows(trainer, base.values.shape[0])
    gram = gram_contribution(trainer, params, version, base.values.shape[0])
    if gram is not None:  # a Gram slice's round: this instance's counts, weight 1
        return gram
    if params.model == "dpals":
        release = trainer.release(base.values, params, version)  # type: ignore[attr-defined]
        return np.asarray(release, dtype=np.float64), USER_WEIGHT
    trained = version - params.gram_slices(base.values.shape[0])  # the schedule starts at S
    delta, weight = home_update(trainer, base.values, trained, params)
    return base.freeze(delta), weight  # retired rows do not move
