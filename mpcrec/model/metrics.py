"""Top-k ranking metrics under temporal leave-last-out, vectorised over users x items.

For every user the candidates are all catalogue items except the user's training items
(and, at test time, the validation item; under the whole-past view of
:func:`~mpcrec.data.split.whole_past` it is a training item already). With one held-out
item per user at rank ``r`` (0-based among the candidates):

    HR@k = Recall@k = [r < k]        NDCG@k = [r < k] / log2(r + 2)

(the ideal DCG of a single relevant item is 1). Ties count against the held-out item:
``r`` is the number of other candidates scoring at least as high, so a constant scorer
earns nothing; rankers break their own ties.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mpcrec.data.interactions import IntArray
from mpcrec.data.split import Split

Scores = npt.NDArray[np.float64]
Scorer = Callable[[IntArray], npt.ArrayLike]
METRICS = ("hr@10", "ndcg@10", "recall@20", "ndcg@20")


@dataclass(frozen=True)
class Ranks:
    """0-based rank of every user's held-out item among its candidates."""

    ranks: IntArray

    def hit_rate(self, k: int) -> float:
        """Fraction of users whose held-out item is in the top ``k``."""
        return float(np.mean(self.ranks < k))

    def ndcg(self, k: int) -> float:
        """Mean NDCG@k with one relevant item per user."""
        gains = np.where(self.ranks < k, 1.0 / np.log2(self.ranks + 2.0), 0.0)
        return float(np.mean(gains))

    def summary(self) -> dict[str, float]:
        """HR@10, NDCG@10, Recall@20 and NDCG@20, keyed as in :data:`METRICS`."""
        return {
            "hr@10": self.hit_rate(10),
            "ndcg@10": self.ndcg(10),
            "recall@20": self.hit_rate(20),
            "ndcg@20": self.ndcg(20),
        }


def exclusion_mask(split: Split, users: IntArray, *, stage: str) -> npt.NDArray[np.bool_]:
    """Boolean (len(users), n_items): True where an item is not a candidate for the user."""
    if stage not in ("valid", "test"):
        raise ValueError(f"stage must be 'valid' or 'test', not {stage!r}")
    position = np.full(split.n_users, -1, dtype=np.int64)
    position[users] = np.arange(users.shape[0])
    mask = np.zeros((users.shape[0], split.n_items), dtype=bool)
    train = split.train
    rows = position[train.users]
    chosen = rows >= 0
    mask[rows[chosen], train.items[chosen]] = True
    if stage == "test":
        mask[np.arange(users.shape[0]), split.valid_item[users]] = True
    return mask


def rank_held_out(scorer: Scorer, split: Split, *, stage: str, chunk: int = 2048) -> Ranks:
    """Rank each user's held-out item (validation or test) among its candidates.

    Parameters
    ----------
    scorer:
        Maps an array of user indices to scores of shape ``(len(users), n_items)``;
        higher is better.
    split:
        The leave-last-out split.
    stage:
        ``"valid"`` or ``"test"``.
    chunk:
        Users scored at a time (bounds memory on large catalogues).
    """
    if stage == "valid" and split.valid_in_train:
        raise ValueError("a whole-past split trains on the validation item: tune on leave_last_out")
    target = split.valid_item if stage == "valid" else split.test_item
    ranks = np.empty(split.n_users, dtype=np.int64)
    for start in range(0, split.n_users, chunk):
        users = np.arange(start, min(start + chunk, split.n_users), dtype=np.int64)
        scores = np.array(scorer(users), dtype=np.float64)
        if scores.shape != (users.shape[0], split.n_items):
            raise ValueError(f"scorer returned shape {scores.shape}")
        scores[exclusion_mask(split, users, stage=stage)] = -np.inf
        rows = np.arange(users.shape[0])
        held = scores[rows, target[users]].copy()
        scores[rows, target[users]] = -np.inf  # the held-out item does not outrank itself
        ranks[users] = np.sum(scores >= held[:, None], axis=1)
    return Ranks(ranks=ranks)


def evaluate(scorer: Scorer, split: Split, *, stage: str = "test") -> dict[str, float]:
    """The four metrics of :data:`METRICS` for ``scorer`` on ``stage``."""
    return rank_held_out(scorer, split, stage=stage).summary()
