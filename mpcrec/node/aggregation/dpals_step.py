"""The member's side of a round, per model kind: what the committee adds its sum to, and how
the revealed result becomes the next published model.

* ``mf``: ``next = public_offset + lr * aggregate`` (:mod:`mpcrec.node.aggregation.step`).
* ``dpals``: no server step (offset 0, ``server_lr`` 1): the committee reveals the noisy
  weighted sum of the instances' scaled statistics; every member turns it into the sum
  (the weights are all equal at user level: ``w = 1 / n``), and solves the public item
  factors from it (:func:`mpcrec.model.dpals_release.published_items`): deterministic,
  so every member signs the same model. The committee program never sees ALS.
  When the settings smooth by metadata (``ALS_DP.smoothing``), the member then smooths the
  solved factors by the released masses and the round's items' public metadata features,
  which it takes from its own trainer (:data:`ItemFeatures`, passed in by the node; bit for
  bit the same at every member: :mod:`mpcrec.model.dpals_smooth`). A member with no
  features refuses the round (``model-kind``) rather than publish an unsmoothed model its
  peers would not sign.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mpcrec.errors import ProtocolError
from mpcrec.federation.round_params import RoundParams
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.dpals_release import published_items, runtime_config
from mpcrec.model.server import Vector
from mpcrec.node.aggregation.step import Matrix, public_offset
from mpcrec.node.round_refusal import RoundRefused

DPALS = "dpals"

#: ``features(n_items)``: the public metadata feature rows of the round's ``n_items`` items
#: (:meth:`mpcrec.node.dpals_trainer.MovieLensDPALSTrainer.item_features`).
ItemFeatures = Callable[[int], Matrix]


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


def item_features(trainer: object) -> ItemFeatures | None:
    """The trainer's :data:`ItemFeatures` provider, if it has one (else ``None``)."""
    provider = getattr(trainer, "item_features", None)
    return provider if callable(provider) else None


def round_features(n_items: int, provider: ItemFeatures | None) -> Matrix:
    """The round's items' features from ``provider``; :class:`RoundRefused` (``model-kind``)
    when there is none or it does not describe ``n_items`` items."""
    if provider is None:
        raise RoundRefused(
            "model-kind",
            "the DP-ALS settings smooth the item factors by public metadata and this node's "
            "trainer provides no item features: it cannot compute the model its peers sign",
            hint="trainer: {kind: movielens, model: dpals} holds the catalogue's metadata",
        )
    features = np.asarray(provider(n_items), dtype=np.float64)
    if features.ndim != 2 or features.shape[0] != n_items:
        raise RoundRefused(
            "model-kind", f"item features of shape {features.shape} for {n_items} items"
        )
    return features


def next_model(
    spec: FederationSpec,
    output: Matrix,
    weights: Sequence[float],
    shape: tuple[int, int],
    features: ItemFeatures | None = None,
) -> Matrix:
    """The next published model from the committee's revealed ``output`` (``features``:
    the public metadata the ``dpals`` settings smooth by, if they do)."""
    if spec.model != DPALS:
        return np.asarray(output, dtype=np.float64).reshape(shape)
    if len(set(weights)) != 1:
        raise ProtocolError(f"a dpals round needs equal weights, not {sorted(set(weights))}")
    total = np.asarray(output, dtype=np.float64) / weights[0]
    config = runtime_config(spec.dim)
    clip = release_clip_norm(spec.params(committee_size=1, min_contributors=1))
    rows = round_features(spec.n_items, features) if config.smoothing else None
    items = published_items(total, config, spec.n_items, clip, rows)
    return np.asarray(items, dtype=np.float64).reshape(shape)
