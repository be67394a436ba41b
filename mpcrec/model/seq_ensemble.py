"""Two federated models' scores mixed at the viewer's instance (issue 16).

Each model's scores of a viewer are standardised over the catalogue (minus the row's mean,
over its standard deviation), so models on different scales (a BPR dot product, a SASRec
logit) weigh as their weights say, then summed with fixed weights. Both models are trained
by their own secure rounds; the mix needs no parameter of its own and nothing of the
viewer leaves their instance, which scores both models from the viewer's recent items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mpcrec.data.interactions import IntArray
from mpcrec.errors import ConfigError
from mpcrec.model.metrics import Scorer
from mpcrec.model.mf import Matrix
from mpcrec.model.sasrec_config import SASRecFedConfig


def standardised(scores: npt.ArrayLike) -> Matrix:
    """Every row of ``scores`` minus its mean, over its standard deviation (a constant
    row becomes zeros)."""
    rows = np.asarray(scores, dtype=np.float64)
    centred = rows - rows.mean(axis=1, keepdims=True)
    spread = centred.std(axis=1, keepdims=True)
    return np.asarray(centred / np.where(spread > 0.0, spread, 1.0), dtype=np.float64)


def mixed(parts: Sequence[npt.ArrayLike], weights: Sequence[float]) -> Matrix:
    """``sum_m weights[m] * standardised(parts[m])``."""
    if len(parts) != len(weights) or not parts:
        raise ConfigError(
            f"{len(parts)} score matrices and {len(weights)} weights",
            hint="give one weight per model of the ensemble",
        )
    total = np.zeros(np.shape(parts[0]), dtype=np.float64)
    for part, weight in zip(parts, weights, strict=True):
        total += weight * standardised(part)
    return total


def ensemble_scorer(scorers: Sequence[Scorer], weights: Sequence[float]) -> Scorer:
    """The scorer of :func:`mixed` over ``scorers``' scores of the same users."""
    if len(scorers) != len(weights) or not scorers:
        raise ConfigError(
            f"{len(scorers)} scorers and {len(weights)} weights",
            hint="give one weight per model of the ensemble",
        )

    def score(users: IntArray) -> Matrix:
        return mixed([scorer(users) for scorer in scorers], weights)

    return score


@dataclass(frozen=True)
class SeqMixConfig:
    """The mix of ``seqrec`` with hard negatives and the federated SASRec.

    Attributes
    ----------
    seq_rounds:
        Secure rounds of ``seqrec`` (``SEQ_FED_HARD``'s model and local training).
    sasrec:
        The federated SASRec's rounds and serving (``SASREC_FED``'s network).
    sasrec_weight:
        SASRec's share of the standardised scores of a logged-in viewer (``seqrec``
        has the rest).
    anonymous_sasrec_weight:
        The same share for an anonymous viewer (the current video alone).
    """

    seq_rounds: int
    sasrec: SASRecFedConfig
    sasrec_weight: float
    anonymous_sasrec_weight: float

    def weights(self, *, anonymous: bool = False) -> tuple[float, float]:
        """``(seqrec's, SASRec's)`` weights for a logged-in (or an anonymous) viewer."""
        share = self.anonymous_sasrec_weight if anonymous else self.sasrec_weight
        return 1.0 - share, share
