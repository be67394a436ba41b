"""Baselines on tiny data: random, popularity, PeerTube's related videos (exactly), EASE."""

from __future__ import annotations

import numpy as np

from mpcrec.data.interactions import Interactions, ItemMeta
from mpcrec.data.split import Split, leave_last_out
from mpcrec.model.baselines import (
    ease_scorer,
    last_items,
    peertube_today_scorer,
    popularity_scorer,
    random_scorer,
)
from mpcrec.model.metrics import evaluate, rank_held_out

META = {
    "a": ItemMeta("A", ("drama",), 1990.0),
    "b": ItemMeta("B", ("drama", "war"), 1995.0),
    "c": ItemMeta("C", ("comedy",), 1999.0),
    "d": ItemMeta("D", ("war",), 1980.0),
    "e": ItemMeta("E", ("comedy", "drama"), 1985.0),
    "f": ItemMeta("F", ("horror",), 1998.0),
    "g": ItemMeta("G", ("war",), 1970.0),
}


def catalogue_split() -> Split:
    # u: watched a (t=1) then b (t=2, current), then valid g, test f
    # v: watched c, e, f (current f), valid a, test d
    data = Interactions.from_columns(
        ["u", "u", "u", "u", "v", "v", "v", "v", "v"],
        ["a", "b", "g", "f", "c", "e", "f", "a", "d"],
        [1, 2, 3, 4, 1, 2, 3, 4, 5],
        catalogue=sorted(META),
        item_meta=META,
    )
    return leave_last_out(data)


def ranking(split: Split, user: int, scores: np.ndarray, excluded: set[str]) -> list[str]:
    ids = split.train.item_ids
    order = np.argsort(-scores[user], kind="stable")
    return [ids[i] for i in order if ids[i] not in excluded]


def test_peertube_today_logic_exactly() -> None:
    split = catalogue_split()
    ids = split.train.item_ids
    assert [ids[i] for i in last_items(split)] == ["b", "f"]
    scores = np.asarray(peertube_today_scorer(split, seed=0)(np.arange(2)))
    # u's current video b (drama, war): tag-sharing unwatched e (drama, 1985), d (war, 1980),
    # g (war, 1970), newest first; then the rest newest first: c (1999), f (1998)
    assert ranking(split, 0, scores, {"a", "b"}) == ["e", "d", "g", "c", "f"]
    # v's current video f (horror): nothing shares a tag -> newest first: b, a, d, g
    assert ranking(split, 1, scores, {"c", "e", "f"}) == ["b", "a", "d", "g"]


def test_peertube_today_breaks_year_ties_by_seed() -> None:
    meta = {k: ItemMeta(k, ("x",), 2000.0) for k in "abcdefgh"}
    data = Interactions.from_columns(
        ["u"] * 3 + ["v"] * 3,
        list("abcdef"),
        [1, 2, 3] * 2,
        catalogue=list("abcdefgh"),
        item_meta=meta,
    )
    split = leave_last_out(data)
    one = np.asarray(peertube_today_scorer(split, seed=1)(np.arange(2)))
    two = np.asarray(peertube_today_scorer(split, seed=2)(np.arange(2)))
    assert len(set(one[0])) == 8  # tie-free
    assert not np.array_equal(one, two)


def test_popularity_ranks_by_count() -> None:
    data = Interactions.from_columns(
        ["u", "u", "u", "v", "v", "v", "w", "w", "w", "w"],
        ["1", "2", "3", "1", "2", "4", "1", "5", "6", "7"],
        [1, 2, 3, 1, 2, 3, 1, 2, 3, 4],
    )
    split = leave_last_out(data)  # train: u {1}, v {1}, w {1, 5}
    scores = np.asarray(popularity_scorer(split, seed=0)(np.arange(3)))
    assert int(np.argmax(scores[0])) == data.item_ids.index("1")
    assert len(set(scores[0])) == data.n_items
    assert scores[0, data.item_ids.index("5")] == np.sort(scores[0])[-2]


def test_structure_beats_popularity_beats_nothing(world: Split) -> None:
    rand = evaluate(random_scorer(world, seed=0), world)["ndcg@10"]
    pop = evaluate(popularity_scorer(world, seed=0), world)["ndcg@10"]
    ease = evaluate(ease_scorer(world), world)["ndcg@10"]
    assert ease > 2 * pop
    assert ease > 2 * rand
    ranks = rank_held_out(random_scorer(world, seed=0), world, stage="test").ranks
    assert ranks.max() < world.n_items
