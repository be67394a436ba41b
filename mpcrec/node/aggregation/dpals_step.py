"""The member's side of a round, per model kind: what the committee adds its sum to, and how
the revealed result becomes the next published model.

* ``mf``: ``next = public_offset + lr * aggregate`` (:mod:`mpcrec.node.aggregation.step`).
* ``dpals``: no server step (offset 0, ``server_lr`` 1): the committee reveals the noisy
  weighted sum of the instances' scaled statistics; every member turns it into the sum
  (the weights are all equal at user level: ``w = 1 / n``), and solves the public item
  factors from it (:func:`mpcrec.model.dpals_release.published_items`): deterministic,
  so every member signs the same model. The committee program never sees ALS.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mpcrec.errors import ProtocolError
from mpcrec.federation.round_params import RoundParams
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.dpals_release import published_items, runtime_config
from mpcrec.model.server import Vector
from mpcrec.node.aggregation.step import Matrix, public_offset

DPALS = "dpals"


#: The per-user scale of a DP-ALS contribution at instance level (the committee's clip and
#: noise bound the instance's vector as a whole; this only sets the values' magnitude: an
#: instance of ~1,000 demo users stays far inside a clip norm of 12, the fixed-point
#: resolution 2^-16 far below the statistics' own spread).
INSTANCE_LEVEL_SCALE = 0.01


def release_clip_norm(params: RoundParams) -> float:
    """``C_u`` a DP-ALS contribution is scaled to: the round's ``user_clip_norm`` at user
    level, :data:`INSTANCE_LEVEL_SCALE` otherwise."""
    return params.user_clip_norm if params.user_level else INSTANCE_LEVEL_SCALE


def committee_offset(spec: FederationSpec, model: Matrix, previous: Matrix | None) -> Vector:
    """What the committee adds ``server_lr * aggregate`` to: 0 for ``dpals``."""
    if spec.model == DPALS:
        return np.zeros(spec.contribution_size)
    return public_offset(spec, model, previous)


def next_model(
    spec: FederationSpec, output: Matrix, weights: Sequence[float], shape: tuple[int, int]
) -> Matrix:
    """The next published model from the committee's revealed ``output``."""
    if spec.model != DPALS:
        return np.asarray(output, dtype=np.float64).reshape(shape)
    if len(set(weights)) != 1:
        raise ProtocolError(f"a dpals round needs equal weights, not {sorted(set(weights))}")
    total = np.asarray(output, dtype=np.float64) / weights[0]
    config = runtime_config(spec.dim)
    clip = release_clip_norm(spec.params(committee_size=1, min_contributors=1))
    items = published_items(total, config, spec.n_items, clip)
    return np.asarray(items, dtype=np.float64).reshape(shape)
