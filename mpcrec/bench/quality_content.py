"""``fedavg_content``: the federated factorisation with the content map trained alongside.

The rows and the map ``W`` train in the same rounds
(:func:`~mpcrec.model.content_fedavg.train_content_fedavg`, settings :data:`CONTENT`: the
``ridge`` step, the rows trained exactly as ``fedavg_plain`` and ``W`` refitted to them
every round), items without a training event served as ``F W``.
:data:`CONTENT_LAM` is the ridge penalty of the post-hoc variant the cold-start protocol
also reports (``fedavg_ridge``: the map fitted on ``fedavg_plain``'s final rows).
"""

from __future__ import annotations

from collections.abc import Callable

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.errors import DataError
from mpcrec.model.content import N_FEATURES, featurise
from mpcrec.model.content_fedavg import ContentConfig, train_content_fedavg
from mpcrec.model.content_sources import movielens_fields
from mpcrec.model.fedavg import FedConfig
from mpcrec.model.metrics import Scorer
from mpcrec.model.mf import Matrix

CONTENT_LAM = 10.0  # ridge penalty of the map, chosen on the cold-start validation users
# The map refitted in closed form every round on the rows fedavg_plain trains (the ridge
# step): chosen on both validation sets (docs/benchmarks/coldstart.md). The summed step of
# the first version (map_lr 0.1) is superseded: it broke the whole-past protocol.
CONTENT = ContentConfig(map_lr=1.0, step="ridge", lam=CONTENT_LAM)


def item_features(split: Split, n_features: int = N_FEATURES) -> Matrix:
    """Hashed content features of every item of ``split`` (MovieLens mapping)."""
    if split.train.item_meta is None:
        raise DataError(
            "fedavg_content needs item metadata (titles, tags, publication times)",
            hint="use MovieLens 100k, or leave fedavg_content out of --methods",
        )
    return featurise(movielens_fields(split.train.item_meta), n_features)


def train_fedavg_content(
    split: Split,
    partition: Partition,
    config: FedConfig,
    *,
    seed: int,
    tick: Callable[[int], None] | None = None,
) -> Scorer:
    """The rows and the content map trained together (:data:`CONTENT`); the scorer."""
    model = train_content_fedavg(
        split, partition, config, item_features(split), CONTENT, seed=seed, on_round=tick
    )
    return model.factors.scores
