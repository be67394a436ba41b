"""``fedavg_content``: the federated factorisation with content rows for items without signal.

Trains exactly like ``fedavg_plain`` (:func:`~mpcrec.model.fedavg.train_fedavg`), then fits
the content map on the public item rows and gives every item without a training event
its content row (:func:`~mpcrec.model.content.with_content_rows`). Rows with signal are
unchanged, so on a table where every item has been seen it is ``fedavg_plain``.
"""

from __future__ import annotations

import numpy as np

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.errors import DataError
from mpcrec.model.content import N_FEATURES, featurise, with_content_rows
from mpcrec.model.content_sources import movielens_fields
from mpcrec.model.fedavg import FedConfig, train_fedavg
from mpcrec.model.metrics import Scorer
from mpcrec.model.mf import Factors, Matrix

CONTENT_LAM = 1.0  # ridge penalty of the map, chosen on the cold-start validation users


def item_features(split: Split, n_features: int = N_FEATURES) -> Matrix:
    """Hashed content features of every item of ``split`` (MovieLens mapping)."""
    if split.train.item_meta is None:
        raise DataError(
            "fedavg_content needs item metadata (titles, tags, publication times)",
            hint="use MovieLens 100k, or leave fedavg_content out of --methods",
        )
    return featurise(movielens_fields(split.train.item_meta), n_features)


def has_signal(split: Split) -> np.ndarray:
    """True for every item with at least one training event."""
    return np.bincount(split.train.items, minlength=split.n_items) > 0


def content_factors(factors: Factors, split: Split, *, lam: float = CONTENT_LAM) -> Factors:
    """``factors`` with every item without a training event given its content row."""
    rows, _ = with_content_rows(factors.item_emb, item_features(split), has_signal(split), lam=lam)
    return Factors(user_emb=factors.user_emb, item_emb=rows)


def train_fedavg_content(
    split: Split, partition: Partition, config: FedConfig, *, seed: int, tick: object = None
) -> Scorer:
    """``fedavg_plain``'s training, then content rows; the scorer."""
    factors = train_fedavg(
        split, partition, config, seed=seed, on_round=tick if callable(tick) else None
    )
    return content_factors(factors, split).scores
