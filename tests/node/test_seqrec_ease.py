"""EASE served beside ``seqrec`` at the viewer's instance: the snapshot's mixed lists are the
simulation's ``seq_fed_ease`` scores (logged-in ``x_u B``, anonymous ``e_v B``), kept
through a saved and reloaded snapshot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mpcrec.data.split import leave_last_out
from mpcrec.model.item_gram import (
    EaseConfig,
    capped_rows,
    ease_viewer_scorer,
    ease_weights,
    from_triangle,
    home_counts,
    triangle,
    user_sensitivity,
    viewed,
)
from mpcrec.model.seq_ensemble import mixed
from mpcrec.model.seqrec import SeqModel, user_scorer
from mpcrec.node.recommender import UnknownUser
from mpcrec.node.seqrec_serving import SeqSnapshot, load_any
from mpcrec.node.seqrec_trainer import SeqrecTrainer, item_uuids, to_matrix
from tests.node.test_seqrec_twin import CONFIG, walks

EASE = EaseConfig(lam=5.0, weight=0.4, anonymous_weight=0.3)
TOL = 1e-4  # float32 serving of standardised scores (order 1) against float64


def _federation() -> tuple[object, SeqModel, list[SeqrecTrainer], np.ndarray]:
    split = leave_last_out(walks())
    rng = np.random.default_rng(11)
    model = SeqModel.init(split.n_items, CONFIG, rng)
    homes = [np.arange(split.n_users)[k::3] for k in range(3)]
    trainers = [SeqrecTrainer(split, users, 1, rng, config=CONFIG) for users in homes]
    gram = from_triangle(np.sum([t.gram_counts() for t in trainers], axis=0), split.n_items)
    return split, model, trainers, ease_weights(gram.astype(np.float64), EASE.lam)


def test_a_logged_in_viewers_list_is_the_simulations_mix() -> None:
    split, model, trainers, b = _federation()
    assert np.array_equal(
        from_triangle(np.sum([t.gram_counts() for t in trainers], axis=0), split.n_items),
        viewed(split).T @ viewed(split),
    )
    snapshot = trainers[0].snapshot(to_matrix(model), 1, ease_weights=b, ease=EASE)
    alone = trainers[0].snapshot(to_matrix(model), 1)
    users = trainers[0].users
    twin = mixed(
        [user_scorer(model, split)(users), ease_viewer_scorer(split, b)(users)],
        EASE.mix(),
    )
    twin[viewed(split)[users] > 0] = -np.inf  # what each viewer has seen is never shown
    changed = 0
    for row, user in enumerate(users.tolist()):
        uid = int(split.train.user_ids[user])
        served = snapshot.recommend(uid, 5)
        assert served.fallback is None
        got = np.array([v.score for v in served.videos])
        best = np.sort(twin[row])[::-1][:5]
        assert np.max(np.abs(got - best)) <= TOL
        changed += [v.url for v in served.videos] != [v.url for v in alone.recommend(uid, 5).videos]
    assert changed > 0  # the mix is not seqrec alone


def test_anonymous_related_videos_mix_the_current_videos_row_of_b(tmp_path: Path) -> None:
    split, model, trainers, b = _federation()
    trainers[1].snapshot(to_matrix(model), 2, ease_weights=b, ease=EASE).save(tmp_path / "s.npz")
    snapshot = load_any(tmp_path / "s.npz")
    assert isinstance(snapshot, SeqSnapshot) and snapshot.ease is not None
    for current in (0, 5, 17):
        twin = mixed(
            [model.related(np.array([current])), b[current][None]], EASE.mix(anonymous=True)
        )[0]
        twin[current] = -np.inf
        served = snapshot.related(snapshot.item_uuids[current], 4)
        got = np.array([v.score for v in served.videos])
        assert np.max(np.abs(got - np.sort(twin)[::-1][:4])) <= TOL
    user = int(split.train.user_ids[trainers[1].users[0]])
    personal = snapshot.related(snapshot.item_uuids[5], 4, user)
    assert personal.videos != snapshot.related(snapshot.item_uuids[5], 4).videos


def test_a_capped_users_influence_on_the_triangle_is_at_most_the_sensitivity() -> None:
    split = leave_last_out(walks(length=12))
    m = 4
    rows = capped_rows(split, m)
    assert rows.sum(axis=1).max() == m  # every user here has more than m distinct items
    users = np.arange(split.n_users)
    whole = triangle(home_counts(rows, users))
    for user in range(split.n_users):
        without = triangle(home_counts(rows, np.delete(users, user)))
        moved = float(np.linalg.norm(whole - without))
        assert moved <= user_sensitivity(m) + 1e-9
    uncapped = triangle(home_counts(viewed(split), users)) - triangle(
        home_counts(viewed(split), users[1:])
    )
    assert float(np.linalg.norm(uncapped)) > user_sensitivity(m)  # the cap is what bounds it


def test_the_mixed_list_is_only_for_local_users() -> None:
    split, model, _, b = _federation()
    ids = split.train.item_ids
    history = {7: list(ids[:3]), 8: list(ids[3:6])}
    snapshot = SeqSnapshot.from_model(
        model,
        version="v1",
        item_urls=ids,
        item_uuids=item_uuids(ids),
        history=history,
        popularity=np.ones(len(ids)),
        local_users=[7],
        ease_weights=b,
        ease=EASE,
    )
    assert snapshot.ease is not None and 8 in snapshot.ease.viewers
    assert snapshot.recommend(7, 3).fallback is None
    with pytest.raises(UnknownUser):
        snapshot.recommend(8, 3)
