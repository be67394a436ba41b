"""A DP-ALS round (model kind ``dpals``) through the in-process launcher and real node
daemons, against its plaintext twin: the ``mpcrec.model.dpals`` steps run here on the same
users, the metadata smoothing included (the members take the items' features from their
trainers). Plaintext and noise-free, so the published item factors equal the twin's to float
rounding; the secure path: tests/secure/test_program.py (the committee, within the codec's
error) and tests/system/test_dpals_federation.py (real processes, with noise).
Also: a node refuses a round of a model kind its trainer cannot train, or a base grown
past the catalogue its DP-ALS trainer's users rate (both ``model-kind``), a member with no
item features refuses to publish (``model-kind``) rather than sign an unsmoothed model, and
members reject a contribution of the model's length in a dpals round."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import partition_users
from mpcrec.data.split import Split, leave_last_out
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.plain import seal_plain
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.dpals import (
    bound_users,
    local_statistics,
    smooth_items,
    solve_items,
    solve_users,
    unpack,
)
from mpcrec.model.dpals_release import instance_release, runtime_config
from mpcrec.model.dpals_train import Home, metadata_features
from mpcrec.model.tuned_dpals import ALS_DP
from mpcrec.node.aggregation.plaintext import plain_round
from mpcrec.node.daemon import Node
from mpcrec.node.dpals_trainer import MovieLensDPALSTrainer
from mpcrec.node.grown_round import RoundBase
from mpcrec.node.home_contribution import contribution
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.trainer import DriftTrainer
from tests.node.world import World, drive, make_launcher, node_config, published

INSTANCES, SHARDS = 20, (9, 10, 11)  # three small shards of the demo's partition
NAMES = [f"ml-{k:02d}" for k in SHARDS]
C_U = 0.1
SPEC = FederationSpec(
    n_items=1682,
    dim=ALS_DP.dim,
    aggregation="plaintext",
    clip_norm=12.0,
    sensitivity="user",
    user_clip_norm=C_U,
    user_rate=1.0,
    model="dpals",
)
PARAMS = SPEC.params(committee_size=3, min_contributors=3)


def _shards() -> tuple[Split, list[Home]]:
    """The split and the three shards' data, as the trainers hold them."""
    data = load_movielens_100k()
    split = leave_last_out(data)
    partition = partition_users(data, INSTANCES, seed=0)
    config = runtime_config(ALS_DP.dim)
    return split, [Home.create(split, partition.members(k), config) for k in SHARDS]


def _twin(base: np.ndarray) -> np.ndarray:
    """The simulation's steps on the three shards' users, in process: the item solve of the
    summed statistics, then the metadata smoothing by their masses
    (:func:`mpcrec.model.dpals_train.train_dpals`'s last round)."""
    config = runtime_config(base.shape[1])
    split, homes = _shards()
    total, n_users = np.zeros(SPEC.contribution_size - 1), 0
    for home in homes:
        users = bound_users(solve_users(base, home.conf, config), config.user_norm)
        total += local_statistics(users, home.weights(config, None), config)
        n_users += users.shape[0]
    items = solve_items(total, n_users, config)
    assert config.smoothing > 0  # the tuned settings smooth: the twin must too
    features = metadata_features(split, words=config.smoothing_words)
    mass = unpack(total, config)["mass"]
    return smooth_items(items, mass, features, strength=config.smoothing, lam=config.smoothing_reg)


@pytest.mark.timeout(120)
def test_a_dpals_round_publishes_the_item_solve_of_the_summed_statistics(tmp_path: Path) -> None:
    # Prepare
    launcher = make_launcher(spec=SPEC, rounds=1, min_instances=len(NAMES))
    world = World(launcher, {})
    for name, k in zip(NAMES, SHARDS, strict=True):
        world.add(Node(node_config(tmp_path, name), MovieLensDPALSTrainer(k, INSTANCES, seed=0)))
    base = launcher.model(0).array()

    # Execute
    world.register_all()
    drive(world, published(world, 1))

    # Assert
    rnd = launcher.current()
    assert rnd is not None and sorted(rnd.contributors) == NAMES
    twin = _twin(base)
    assert float(np.abs(twin - base).max()) > 0.01  # the round moved the model
    np.testing.assert_allclose(launcher.model(1).array(), twin, rtol=0, atol=1e-9)


def test_a_trainer_of_another_model_kind_refuses_the_round() -> None:
    model = PublishedModel.from_array(0, np.zeros((SPEC.n_items, SPEC.dim)))
    base = RoundBase(model, model.array(), None, np.zeros(SPEC.n_items, np.bool_))
    mf_params = FederationSpec(n_items=SPEC.n_items, dim=SPEC.dim).params(
        committee_size=3, min_contributors=3
    )

    with pytest.raises(RoundRefused) as drift:
        contribution(DriftTrainer("tube-a"), base, 0, PARAMS)
    with pytest.raises(RoundRefused) as dpals:
        contribution(MovieLensDPALSTrainer(SHARDS[0], INSTANCES, seed=0), base, 0, mf_params)

    assert drift.value.rule == dpals.value.rule == "model-kind"


def test_a_trainer_of_a_fixed_catalogue_refuses_a_grown_model() -> None:
    """A DP-ALS trainer's users rate ML-100k's 1,682 items: handed a base grown with the
    catalogue (here 9 new rows) it refuses the round (``model-kind``), naming both row
    counts, instead of failing inside the user solve; on the catalogue's rows it trains."""
    trainer = MovieLensDPALSTrainer(SHARDS[0], INSTANCES, seed=0)
    grown = np.full((SPEC.n_items + 9, SPEC.dim), 0.1)
    model = PublishedModel.from_array(0, grown)
    base = RoundBase(model, grown, None, np.zeros(grown.shape[0], np.bool_))

    with pytest.raises(RoundRefused) as refused:
        contribution(trainer, base, 0, PARAMS)

    assert refused.value.rule == "model-kind"
    assert "1691 rows" in refused.value.detail and "1682" in refused.value.detail
    assert refused.value.hint is not None and "--model mf" in refused.value.hint
    same = grown[: SPEC.n_items]
    fits = RoundBase(PublishedModel.from_array(0, same), same, None, np.zeros(SPEC.n_items, bool))
    release, _ = contribution(trainer, fits, 0, PARAMS)
    assert release.shape == (SPEC.contribution_size,)


def test_a_member_without_item_features_refuses_to_publish() -> None:
    """The settings smooth by metadata: a member whose trainer gives no features must not
    publish (and sign) the unsmoothed solve its peers would not; with the features the
    same round publishes."""
    trainer = MovieLensDPALSTrainer(SHARDS[0], INSTANCES, seed=0)
    model = np.zeros((SPEC.n_items, SPEC.dim))
    model[:, 0] = 0.1
    release = instance_release(
        bound_users(trainer.home_users(model), 1.0), trainer.weights, runtime_config(SPEC.dim), C_U
    )
    digest = PublishedModel.from_array(0, model).model_hash
    sealed = seal_plain(release, round_id=1, model_hash=digest, contributor="ml-09")
    envelopes = [Envelope("ml-09", 1.0, b"", sealed)]

    def publish(**features: object) -> tuple[np.ndarray, tuple[str, ...]]:
        return plain_round(
            envelopes,
            spec=SPEC,
            round_id=1,
            model=model,
            model_hash=digest,
            previous=None,
            **features,  # type: ignore[arg-type]
        )

    with pytest.raises(RoundRefused) as refused:
        publish()
    smoothed, accepted = publish(item_features=trainer.item_features)

    assert refused.value.rule == "model-kind"
    assert accepted == ("ml-09",) and np.isfinite(smoothed).all()


def test_members_reject_a_contribution_of_the_models_length_in_a_dpals_round() -> None:
    model = np.zeros((SPEC.n_items, SPEC.dim))
    digest = PublishedModel.from_array(0, model).model_hash
    sizes = {"right": SPEC.contribution_size, "model-sized": SPEC.size}
    envelopes = [
        Envelope(
            name,
            1.0,
            b"",
            seal_plain(np.full(size, 1e-3), round_id=1, model_hash=digest, contributor=name),
        )
        for name, size in sizes.items()
    ]

    _, accepted = plain_round(
        envelopes,
        spec=SPEC,
        round_id=1,
        model=model,
        model_hash=digest,
        previous=None,
        item_features=lambda n: np.zeros((n, 2)),
    )

    assert SPEC.contribution_size != SPEC.size
    assert accepted == ("right",)
