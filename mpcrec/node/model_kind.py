"""The node's contribution per model kind (``RoundParams.model``), and the ``model-kind``
refusal: a trainer states the kind it trains (``model_kind``, ``"mf"`` when it says
nothing) and a round of another kind is refused before anything is computed."""

from __future__ import annotations

from typing import Any

import numpy as np

from mpcrec.federation.round_params import DEFAULT_MODEL, RoundParams
from mpcrec.node.grown_round import RoundBase
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.trainer import Matrix, Trainer
from mpcrec.node.user_dp import USER_WEIGHT, home_update

RULE = "model-kind"


def trainer_kind(trainer: Any) -> str:
    """The model kind ``trainer`` trains (``"mf"`` unless it names another)."""
    return str(getattr(trainer, "model_kind", DEFAULT_MODEL))


def contribution(
    trainer: Trainer, base: RoundBase, version: int, params: RoundParams
) -> tuple[Matrix, float]:
    """The update and weight this node contributes from ``base`` under ``params``: ``dpals``: the
    trainer's scaled statistics with the weight every instance signs
    (:data:`~mpcrec.node.user_dp.USER_WEIGHT`); ``mf``: :func:`~mpcrec.node.user_dp.home_update`
    with the retired rows frozen (``base``: the round's rows, grown with the catalogue)."""
    kind, model = trainer_kind(trainer), base.values
    if kind != params.model:
        raise RoundRefused(
            RULE,
            f"the round trains model kind {params.model!r}, this node's trainer "
            f"({type(trainer).__name__}) trains {kind!r}",
            hint="trainer: {kind: movielens, model: dpals} trains dpals",
        )
    if params.model == "dpals":
        release = trainer.release(model, params)  # type: ignore[attr-defined]
        return np.asarray(release, dtype=np.float64), USER_WEIGHT
    delta, weight = home_update(trainer, model, version, params)
    return base.freeze(delta), weight  # retired rows do not move
