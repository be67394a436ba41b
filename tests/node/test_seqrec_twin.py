"""The order-aware model ``seqrec`` in the runtime: the node's update path (model-kind check,
the delta over the server step, the clip at home, plaintext envelopes, the members' sum and
server step) over N rounds equals the simulation's FedAvg with the same seed; the node
refuses a round of another model kind; what it serves is the model's own scores."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest

from mpcrec.data.interactions import Interactions
from mpcrec.data.partition import Partition
from mpcrec.data.split import leave_last_out
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.plain import seal_plain
from mpcrec.federation.published_model import PublishedModel
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.seqrec import SeqConfig, SeqModel, train_seq_fedavg
from mpcrec.node.aggregation.plaintext import plain_round
from mpcrec.node.aggregation.step import clip_for_committee
from mpcrec.node.http_api import ApiServer
from mpcrec.node.recommender import Recommender
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.seqrec_serving import SeqSnapshot, load_any
from mpcrec.node.seqrec_trainer import SeqrecTrainer, item_uuids, to_matrix, to_model
from mpcrec.node.trainer import DriftTrainer
from mpcrec.node.user_dp import home_update

CONFIG = SeqConfig(dim=8, context=3, decay=0.5, lr=0.05, epochs=2, batch_size=32)
ROUNDS = 3


def walks(n_users: int = 30, n_items: int = 25, length: int = 8, seed: int = 0) -> Interactions:
    """Users (numeric ids, as PeerTube's) walking a cycle of items with random skips."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for u in range(n_users):
        item = int(rng.integers(n_items))
        for step in range(length):
            users.append(str(100 + u))
            items.append(f"v{item}")
            times.append(float(step))
            item = (item + 1 + int(rng.integers(2))) % n_items
    return Interactions.from_columns(users, items, times, catalogue=[f"v{i}" for i in range(25)])


@pytest.mark.parametrize(
    "config", [CONFIG, replace(CONFIG, negatives=3, reg=0.03)], ids=["uniform", "hard"]
)
def test_runtime_rounds_of_seqrec_trainers_are_the_simulations_fedavg(config: SeqConfig) -> None:
    split = leave_last_out(walks())
    partition = Partition(
        names=("a", "b", "c"), user_instance=np.arange(split.n_users) % 3, how="label"
    )
    expected = train_seq_fedavg(split, partition, config, rounds=ROUNDS, seed=7)
    rng = np.random.default_rng(7)  # the simulation's one generator: init, then every shard
    model = to_matrix(SeqModel.init(split.n_items, config, rng))
    trainers = [
        SeqrecTrainer(split, partition.members(k), ROUNDS, rng, config=config) for k in range(3)
    ]
    spec = FederationSpec(
        n_items=split.n_items,
        dim=2 * config.dim,
        aggregation="plaintext",
        server_lr=8.0,
        clip_norm=10.0,
        model="seqrec",
    )
    params = spec.params(committee_size=1, min_contributors=1)
    norms = []
    for version in range(ROUNDS):
        base = PublishedModel.from_array(version, model)
        envelopes = []
        for k, trainer in enumerate(trainers):
            delta, weight = home_update(trainer, base.array(), version, params)
            norms.append(float(np.linalg.norm(delta)))
            sealed = seal_plain(
                clip_for_committee(delta, spec),
                round_id=version,
                model_hash=base.model_hash,
                contributor=f"n{k}",
                weight=weight,
            )
            envelopes.append(Envelope(f"n{k}", weight, b"", sealed))
        model, accepted = plain_round(
            envelopes,
            spec=spec,
            round_id=version,
            model=base.array(),
            model_hash=base.model_hash,
            previous=None,
        )
        assert len(accepted) == 3
    assert max(norms) < 0.999 * spec.clip_norm  # nothing clipped: the twin is exact
    got = to_model(model, config)
    assert np.allclose(got.context_emb, expected.context_emb, rtol=0, atol=1e-9)
    assert np.allclose(got.item_emb, expected.item_emb, rtol=0, atol=1e-9)
    assert not np.allclose(
        got.item_emb, SeqModel.init(25, config, np.random.default_rng(7)).item_emb
    )


def test_a_node_refuses_a_round_of_a_model_kind_its_trainer_cannot_train() -> None:
    split = leave_last_out(walks())
    spec = FederationSpec(n_items=split.n_items, dim=2 * CONFIG.dim, model="seqrec")
    seqrec = spec.params(committee_size=3, min_contributors=3)
    model = np.zeros((split.n_items, 2 * CONFIG.dim))
    with pytest.raises(RoundRefused) as refused:
        home_update(DriftTrainer("n0"), model, 0, seqrec)
    assert refused.value.rule == "model-kind"
    trainer = SeqrecTrainer(split, np.arange(5), 2, np.random.default_rng(0), config=CONFIG)
    with pytest.raises(RoundRefused) as refused:
        home_update(trainer, model, 0, replace(seqrec, model="mf"))
    assert refused.value.rule == "model-kind"


def test_the_seqrec_digest_differs_and_mf_keeps_every_earlier_digest() -> None:
    mf = FederationSpec(n_items=10, dim=4).params(committee_size=3, min_contributors=3)
    assert "model" not in mf.to_json() and replace(mf, model="").model == "mf"
    seq = replace(mf, model="seqrec")
    assert seq.to_json()["model"] == "seqrec" and seq.digest != mf.digest


def test_the_snapshot_serves_the_models_scores_for_both_viewers() -> None:
    split = leave_last_out(walks())
    rng = np.random.default_rng(3)
    model = SeqModel.init(split.n_items, CONFIG, rng)
    trainer = SeqrecTrainer(split, np.arange(split.n_users), 1, rng, config=CONFIG)
    snapshot = trainer.snapshot(to_matrix(model), 4)
    ids = split.train.item_ids
    current = 5
    anonymous = snapshot.related(snapshot.item_uuids[current], 3)
    scores = model.related(np.array([current]))[0]
    scores[current] = -np.inf
    assert [v.url for v in anonymous.videos] == [ids[i] for i in np.argsort(-scores)[:3]]
    user = int(split.train.user_ids[0])
    history = [i for i in trainer.examples.context[trainer.examples.user == 0][-1] if i >= 0]
    assert snapshot.recommend(user, 3).fallback is None
    personal = snapshot.related(snapshot.item_uuids[current], 25, user)
    assert ids[current] not in [v.url for v in personal.videos]
    assert len(history) > 0 and personal.videos != anonymous.videos


def test_the_api_answers_both_viewers_from_a_saved_and_reloaded_seqrec_snapshot(
    tmp_path: Path,
) -> None:
    split = leave_last_out(walks())
    rng = np.random.default_rng(5)
    model = SeqModel.init(split.n_items, CONFIG, rng)
    trainer = SeqrecTrainer(split, np.arange(split.n_users), 1, rng, config=CONFIG)
    trainer.snapshot(to_matrix(model), 2).save(tmp_path / "snapshot.npz")
    loaded = load_any(tmp_path / "snapshot.npz")
    assert isinstance(loaded, SeqSnapshot)
    secret = "s3cret-" + "x" * 40
    server = ApiServer(Recommender(loaded), secret=secret.encode(), port=0)
    server.start()
    try:
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=server.url, timeout=10, headers=headers) as client:
            route = "/api/v1/recommendations/videos"
            video = item_uuids(split.train.item_ids)[5]
            related = client.get(route, params={"videoId": video, "count": 4}).json()
            user = int(split.train.user_ids[0])
            personal = client.get(route, params={"userId": user, "count": 4}).json()
    finally:
        server.stop()
    scores = model.related(np.array([5]))[0]
    scores[5] = -np.inf
    best = [item_uuids(split.train.item_ids)[i] for i in np.argsort(-scores)[:4]]
    assert [v["uuid"] for v in related["data"]] == best
    assert personal["data"] and personal["modelVersion"] == "v2"


def test_user_level_seqrec_clips_each_drawn_users_delta_on_its_own() -> None:
    split = leave_last_out(walks())
    model = to_matrix(SeqModel.init(split.n_items, CONFIG, np.random.default_rng(2)))
    trainer = SeqrecTrainer(split, np.arange(6), 2, np.random.default_rng(0), config=CONFIG)
    params = replace(
        FederationSpec(n_items=split.n_items, dim=2 * CONFIG.dim, model="seqrec").params(
            committee_size=3, min_contributors=3
        ),
        sensitivity="user",
        user_rate=1.0,
        user_clip_norm=1e-3,
    )

    delta, weight = home_update(trainer, model, 0, params)

    assert weight == 1.0 and 0 < np.linalg.norm(delta) <= 6 * 1e-3 * (1 + 1e-9)
    one = SeqrecTrainer(split, np.arange(1), 2, np.random.default_rng(0), config=CONFIG)
    unclipped = one.update_user_level(
        model, 0, user_rate=1.0, user_clip_norm=1e9, rng=np.random.default_rng(3)
    )
    assert np.linalg.norm(unclipped) > 1e-3  # the clip above did bind


def test_a_model_of_another_width_is_refused_not_trained() -> None:
    split = leave_last_out(walks())
    trainer = SeqrecTrainer(split, np.arange(5), 2, np.random.default_rng(0), config=CONFIG)
    spec = FederationSpec(n_items=split.n_items, dim=CONFIG.dim, model="seqrec")
    params = spec.params(committee_size=3, min_contributors=3)
    with pytest.raises(RoundRefused) as refused:
        home_update(trainer, np.zeros((split.n_items, CONFIG.dim)), 0, params)
    assert refused.value.rule == "model-kind"


def test_the_model_kind_crosses_the_wire_and_an_empty_one_reads_as_mf() -> None:
    from mpcrec.federation.registration import Registered
    from mpcrec.proto import federation_pb2 as pb
    from mpcrec.proto.convert import registered_from_pb, registered_to_pb
    from mpcrec.proto.convert_rounds import _params_from_pb

    spec = FederationSpec(n_items=10, dim=16, model="seqrec")
    reply = Registered("n0", bytes(32), 0, spec, committee_size=3, min_contributors=3)
    assert registered_from_pb(registered_to_pb(reply)).spec.model == "seqrec"
    older = registered_to_pb(reply)
    older.spec.model = ""  # a launcher from before the field
    assert registered_from_pb(older).spec.model == "mf"
    params = spec.params(committee_size=3, min_contributors=3)
    wired = _params_from_pb(pb.RoundParams(**params.to_json()))
    assert wired == params and wired is not None and wired.digest == params.digest
