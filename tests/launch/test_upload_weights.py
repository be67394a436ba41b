"""The launcher refuses unusable weights at upload, and envelopes that declare another
weight or other round parameters than the upload; it logs the round parameters it runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from launch.admission import check_upload
from launch.envelope_terms import check_declared_terms
from launch.launcher import Launcher
from launch.memory_store import InMemoryStore
from launch.round import RoundPolicy
from mpcrec.crypto.envelope import seal_contribution
from mpcrec.crypto.keys import NodeKeys
from mpcrec.federation.contribution import Contribution
from mpcrec.federation.refusals import InvalidMessage
from mpcrec.federation.spec import FederationSpec

SPEC = FederationSpec(n_items=2, dim=2, max_weight=100.0)
POLICY = RoundPolicy(committee_size=3, min_contributors=3)


@pytest.fixture
def launcher() -> Launcher:
    return Launcher(InMemoryStore(), policy=POLICY, spec=SPEC)


def _upload(launcher: Launcher, keys: NodeKeys, *, weight: float, declared: float) -> Contribution:
    sealed = seal_contribution(
        np.zeros(SPEC.size),
        member_keys=[keys.sealing_public] * 3,
        signing_key=keys.signing,
        round_id=1,
        model_hash=b"\x01" * 32,
        contributor_id="a",
        weight=declared,
        params_hash=launcher.params.digest,
    )
    envelopes = {m: s.to_bytes() for m, s in zip("xyz", sealed, strict=True)}
    return Contribution(1, "a", weight, envelopes, params_hash=launcher.params.digest)


@pytest.mark.parametrize("weight", [math.inf, math.nan, -1.0, 0.0, 101.0])
def test_weights_that_are_not_finite_positive_and_capped_are_refused(
    launcher: Launcher, weight: float
) -> None:
    upload = Contribution(1, "a", weight, {"x": b"", "y": b"", "z": b""})

    with pytest.raises(InvalidMessage, match="weight"):
        check_upload(launcher, upload)


def test_envelopes_must_declare_the_uploads_weight(launcher: Launcher, tmp_path: Path) -> None:
    keys = NodeKeys.load_or_create(tmp_path / "a")
    honest = _upload(launcher, keys, weight=10.0, declared=10.0)
    lying = _upload(launcher, keys, weight=10.0, declared=99.0)

    check_upload(launcher, honest)
    check_declared_terms("secure", honest)
    with pytest.raises(InvalidMessage, match="declares another weight"):
        check_declared_terms("secure", lying)


def test_the_round_parameters_are_those_of_the_configuration(launcher: Launcher) -> None:
    params = launcher.params

    assert (params.aggregation, params.range_bound, params.max_weight) == ("secure", 160.0, 100.0)
    assert (params.committee_size, params.min_contributors) == (3, 3)
