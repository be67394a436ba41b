"""Order-aware baselines on worlds where the right answer is known."""

from __future__ import annotations

import numpy as np

from mpcrec.data.interactions import Interactions
from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.model.baselines import popularity_scorer
from mpcrec.model.metrics import evaluate, rank_held_out
from mpcrec.model.sequence import Transitions, histories, transitions_scorer


def chain(n_users: int = 40, n_items: int = 30, length: int = 6, seed: int = 0) -> Interactions:
    """Every user walks the cycle 0 -> 1 -> ... -> n_items-1 -> 0 from a random start."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        for step in range(length):
            users.append(f"u{u}")
            items.append(f"i{(start + step) % n_items}")
            times.append(float(step))
    return Interactions.from_columns(
        users, items, times, catalogue=[f"i{i}" for i in range(n_items)]
    )


def test_histories_are_in_time_order() -> None:
    data = Interactions.from_columns(["a", "a", "b", "a"], ["2", "0", "1", "1"], [3, 1, 1, 2])
    ids = data.item_ids
    assert [[ids[i] for i in h] for h in histories(data)] == [["0", "1", "2"], ["1"]]


def test_transition_counts() -> None:
    data = Interactions.from_columns(
        ["a", "a", "a", "b", "b"], ["0", "1", "0", "0", "1"], [1, 2, 3, 1, 2]
    )
    counts = Transitions.count_in(data)
    successors, n = counts.row(0)
    assert successors.tolist() == [1] and n.tolist() == [2.0]
    successors, n = counts.row(1)
    assert successors.tolist() == [0] and n.tolist() == [1.0]


def test_transitions_recover_a_deterministic_chain() -> None:
    data = chain()
    held, past = leave_last_out(data), whole_past(data)
    scorer = transitions_scorer(past, seed=0, tune_on=held)
    assert rank_held_out(scorer, past, stage="test").ranks.tolist() == [0] * data.n_users
    assert evaluate(scorer, past)["ndcg@10"] == 1.0
    # trained without the validation item, the current item is two steps before the test:
    # the chain gives the validation item, which the test excludes
    on_train_only = transitions_scorer(held, seed=0, smoothing=0.01)
    assert rank_held_out(on_train_only, held, stage="valid").ranks.tolist() == [0] * 40
    assert evaluate(on_train_only, held)["ndcg@10"] < 0.8
    # every item is (about) equally popular: popularity cannot know what comes next
    assert evaluate(popularity_scorer(past, seed=0), past)["ndcg@10"] < 0.5


def test_transitions_back_off_to_popularity_for_an_unseen_current_item() -> None:
    # user a's current item w never had a successor: popularity decides (p: 3 views, x: 1)
    rows = [("a", "x"), ("a", "z"), ("a", "w"), ("a", "y")]
    rows += [("b", "p"), ("b", "q"), ("b", "r"), ("b", "s")]
    rows += [("c", "q"), ("c", "r"), ("c", "p"), ("c", "s")]
    rows += [("d", "q"), ("d", "p"), ("d", "r"), ("d", "s")]
    data = Interactions.from_columns(
        [u for u, _ in rows], [i for _, i in rows], [k % 4 for k in range(len(rows))]
    )
    split = whole_past(data)
    ids = list(data.item_ids)
    ordered = [
        ids[i]
        for i in np.argsort(-transitions_scorer(split, seed=0, smoothing=1.0)(np.array([0]))[0])
    ]
    assert ordered.index("p") < ordered.index("x") < ordered.index("s")
    # user b's current item r was followed by p once (user c): p comes first
    ordered = [
        ids[i]
        for i in np.argsort(-transitions_scorer(split, seed=0, smoothing=1.0)(np.array([1]))[0])
    ]
    assert ordered[0] == "p"
