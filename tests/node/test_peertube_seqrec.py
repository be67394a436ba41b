"""``seqrec`` on a real PeerTube database (PostgreSQL through the reader role): the update is
the MovieLens trainer's on the same histories, and the snapshot serves both viewers from the
model, in PeerTube's UUIDs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psycopg
import pytest

from mpcrec.data.peertube_mirror import write_instance
from mpcrec.data.peertube_settings import PeerTubeSettings
from mpcrec.model.seqrec import SeqConfig, SeqModel
from mpcrec.model.sequence import histories
from mpcrec.node.peertube_seqrec import PeerTubeSeqrecTrainer
from mpcrec.node.peertube_source import PeerTubeSource
from mpcrec.node.peertube_trainer import Catalogue
from mpcrec.node.seqrec_serving import SeqSnapshot
from mpcrec.node.seqrec_trainer import SeqrecTrainer, to_matrix
from tests.postgres import PeerTubeDatabase, synthetic_table

pytestmark = pytest.mark.timeout(120)
CONFIG = SeqConfig(dim=8, context=3, epochs=1, batch_size=16)


def test_a_peertube_node_trains_and_serves_seqrec_from_its_users_histories(
    peertube_db: PeerTubeDatabase, tmp_path: Path
) -> None:
    # Prepare: 10 users, 30 videos, a seqrec model over the catalogue
    table = synthetic_table(n_users=10, n_items=30, per_user=6)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        names = write_instance(conn, table, host="tube.example")
    (tmp_path / "catalogue.txt").write_text("\n".join(names.video_urls) + "\n")
    node = PeerTubeSeqrecTrainer(
        PeerTubeSource(PeerTubeSettings(dsn=peertube_db.reader_dsn, settle_seconds=0)),
        Catalogue.load(tmp_path / "catalogue.txt"),
        rounds=3,
        seed=0,
        state_dir=tmp_path / "state",
        name="tube-a",
    )
    node.config = CONFIG
    node.rng = np.random.default_rng(4)
    model = to_matrix(SeqModel.init(30, CONFIG, np.random.default_rng(1)))

    # Execute: a round, and the same round by the MovieLens trainer on the histories read
    delta, weight = node.update(model, 0, server_lr=2.0)
    split = node._split(30)
    users = np.arange(split.n_users)
    twin = SeqrecTrainer(split, users, 3, np.random.default_rng(4), config=CONFIG)
    expected, expected_weight = twin.update(model, 0, server_lr=2.0)
    served = node.snapshot(model + 2.0 * delta, 1)

    # Assert: the same update; PeerTube's order of events; both viewers from the model
    assert weight == expected_weight == 10 * 5 and np.array_equal(delta, expected)
    assert [len(h) for h in histories(split.train)] == [6] * 10
    assert isinstance(served, SeqSnapshot) and served.item_uuids == names.video_uuids
    anonymous = served.related(names.video_uuids[3], 4)
    assert anonymous.videos and names.video_uuids[3] not in [v.uuid for v in anonymous.videos]
    user = int(split.train.user_ids[0])  # PeerTube's id of a user with signals
    personal = served.recommend(user, 5)
    shown = {served.item_urls.index(v.url) for v in personal.videos}
    assert personal.fallback is None and len(shown) == 5
    assert not set(served.seen[user].tolist()) & shown
