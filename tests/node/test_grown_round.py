"""A model that grows with the catalogue, in process: rounds run on the catalogue's rows,
launcher and nodes grow the base to the same matrix, retired rows do not move, and a result
or share sized for another row count is refused with a clear error."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from launch.store import MemberResult
from mpcrec.audit.checks import check_catalogue
from mpcrec.audit.history import replay
from mpcrec.crypto.envelope import open_share, seal_contribution
from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.replay import NonceRegistry
from mpcrec.errors import ProtocolError
from mpcrec.federation.grown_model import grow_base, retired_flags
from mpcrec.federation.published_model import PublishedModel
from mpcrec.node.grown_round import round_base
from mpcrec.node.round_refusal import RoundRefused
from tests.node.catalogue_world import catalogue_world
from tests.node.world import SPEC, drive
from tests.node.world import published as published_until

NAMES = ["tube-a", "tube-b", "tube-c"]


def _result(round_id: int, data: bytes) -> MemberResult:
    digest = hashlib.sha256(data).digest()
    return MemberResult(round_id, "tube-a", True, "", digest, (), b"", model=data)


def test_the_model_grows_with_the_catalogue_and_retired_rows_do_not_move(tmp_path: Path) -> None:
    # Prepare: a spec of 6 rows; each instance exports 3 videos: version 1 has 9 rows
    fed = catalogue_world(tmp_path, NAMES)
    world, launcher, catalogue = fed.world, fed.world.launcher, fed.catalogue
    for name in NAMES:
        fed.export(name, range(3))
    world.register_all()
    try:
        # Execute: round 1 on version 1 (9 rows)
        drive(world, published_until(world, 1))
        v1 = launcher.model(1)
        # tube-a drops its video 0 (row 0 retired) and publishes two new ones: 11 rows
        fed.export("tube-a", range(1, 5))
        ann = drive(world, lambda a: a.catalogue_version == 2 and a.phase.value == "collecting")
        v1 = launcher.model(ann.model_version)  # the round may have opened before the export
        mine = round_base(ann, v1, world.nodes["tube-b"].catalogue)
        drive(world, published_until(world, ann.model_version + 1))
        v2 = launcher.model(ann.model_version + 1)
        # Assert: every published model has its round's catalogue rows
        assert (launcher.model(0).n_items, v1.n_items, v2.n_items) == (SPEC.n_items, 9, 11)
        # launcher and node grow the base to the same matrix, to the bit
        flags = retired_flags(catalogue.retired(), 11)
        assert flags.tolist() == [True] + [False] * 10
        theirs = grow_base(v1.array(), 11, flags, launcher.rows.initial)  # both: content rows
        assert mine.values.tobytes() == theirs.tobytes()
        assert mine.model.model_hash == v1.model_hash  # the round stays bound to the base
        # retired row 0 did not move; the new rows did (trained from their content rows)
        assert v2.array()[0].tobytes() == v1.array()[0].tobytes()
        assert np.abs(v2.array()[9:]).min() > 0
        # a base served with rows beyond the verified version is refused
        padded = PublishedModel.from_array(v1.version, np.zeros((13, 3)))
        with pytest.raises(RoundRefused, match="13 rows, the verified catalogue version 2 11"):
            round_base(ann, padded, world.nodes["tube-b"].catalogue)
        # the audit ties every model row to a signed version
        assert check_catalogue(replay(list(launcher.trail.log.entries()))[0]) == []
        # a result sized for the old row count is refused, saying why
        rnd = launcher.store.get_round(ann.round_id)
        assert rnd is not None
        stale = _result(ann.round_id, v1.data)
        with pytest.raises(ProtocolError, match=r"expected 264 \(11 rows of 3"):
            launcher.rows.check_result(rnd, stale)
        # and so is one whose retired row moved
        moved = v2.array()
        moved[0] += 1.0
        forged = _result(ann.round_id, moved.astype("<f8").tobytes())
        with pytest.raises(ProtocolError, match=r"retired rows \[0\] moved"):
            launcher.rows.check_result(rnd, forged)
    finally:
        world.close()


def test_a_share_sized_for_another_row_count_is_refused(tmp_path: Path) -> None:
    # Prepare: a contribution sealed for 9 rows of 3 in a round whose model has 11
    member = NodeKeys.load_or_create(tmp_path / "m")
    contributor = NodeKeys.load_or_create(tmp_path / "c")
    sealed = seal_contribution(
        np.zeros(9 * 3),
        member_keys=[member.sealing_public, NodeKeys.load_or_create(tmp_path / "o").sealing_public],
        signing_key=contributor.signing,
        round_id=2,
        model_hash=bytes(32),
        contributor_id="tube-a",
        weight=1.0,
        params_hash=bytes(32),
    )
    # Execute / Assert: the member opening it for 11 rows refuses, naming both sizes
    with pytest.raises(ProtocolError, match=r"share of 216 bytes, expected 264 \(dim 33\)"):
        open_share(
            sealed[0],
            member_key=member.sealing,
            contributor_key=contributor.signing.public_key(),
            round_id=2,
            model_hash=bytes(32),
            member_index=0,
            dim=33,
            seen=NonceRegistry(),
        )
