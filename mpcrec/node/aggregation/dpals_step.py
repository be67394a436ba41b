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
* ``dpals`` with a ``count_noise_multiplier``: the round on the initial model (version 0)
  is the count release: the committee reveals the noisy item counts (its noise at the
  count ``z``), every member publishes the base model with the rows outside the top
  ``head_items`` at 0 (:mod:`mpcrec.model.dpals_counts`), and the statistics rounds' models
  keep that head (their rows outside it at 0, as in the simulation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mpcrec.errors import ProtocolError
from mpcrec.federation.round_params import RoundParams
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.dpals_counts import head_model, published_head, released_counts, released_head
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
    base: Matrix | None = None,
    base_version: int = -1,
) -> Matrix:
    """The next published model from the committee's revealed ``output`` (``features``:
    the public metadata the ``dpals`` settings smooth by, if they do; ``base`` and its
    ``base_version``: the round's model, which a count release publishes over its head)."""
    if spec.model != DPALS:
        return np.asarray(output, dtype=np.float64).reshape(shape)
    if len(set(weights)) != 1:
        raise ProtocolError(f"a dpals round needs equal weights, not {sorted(set(weights))}")
    total = np.asarray(output, dtype=np.float64) / weights[0]
    params = spec.params(committee_size=1, min_contributors=1)
    counts = bool(params.count_noise_multiplier)
    config = runtime_config(spec.dim, counts)
    clip = release_clip_norm(params)
    if params.counts_round(base_version):
        if base is None:
            raise ProtocolError("a dpals count release publishes its base model over the head")
        chosen = released_head(released_counts(total, spec.n_items, clip), config)
        return head_model(np.asarray(base).reshape(shape), chosen)
    head = published_head(np.asarray(base).reshape(shape)) if counts and base is not None else None
    rows = round_features(spec.n_items, features) if config.smoothing else None
    items = published_items(total, config, spec.n_items, clip, rows, head)
    return np.asarray(items, dtype=np.float64).reshape(shape)
