"""The secure round in real member processes, against its plaintext twin.

All tests in this module share one warm replicated committee (one xdist group).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from committees.local_committee import LocalCommittee
from committees.session import SealedInputs
from mpcrec.crypto.envelope import seal_contribution
from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.pki import CertPaths
from mpcrec.federation.contribution import Envelope
from mpcrec.federation.grown_model import grow_base, grow_previous, keep_retired, retired_flags
from mpcrec.federation.plain import seal_plain
from mpcrec.federation.spec import FederationSpec
from mpcrec.model.catalogue_rows import freeze_retired
from mpcrec.model.server import ServerSGD, weighted_sum
from mpcrec.node.aggregation.kind import Seat
from mpcrec.node.aggregation.plaintext import plain_round
from mpcrec.node.aggregation.secure import SecureAggregation
from mpcrec.node.aggregation.step import clip_for_committee
from mpcrec.secure.program import RoundSpec
from mpcrec.secure.validation import check_parameters, norm_block
from tests.secure.conftest import member_shares

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("secure-replicated")]

TOL = 1e-3  # fixed-point tolerance on every coordinate


def _raw(key: X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    raw = serialization.Encoding.Raw
    if isinstance(key, X25519PrivateKey):
        return key.private_bytes(raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return key.public_key().public_bytes(raw, serialization.PublicFormat.Raw)


@pytest.mark.timeout(240)
def test_equals_plaintext_fedavg_over_rounds_with_momentum(
    replicated_committee: LocalCommittee,
) -> None:
    # Prepare: two trajectories from the same start, plaintext and MPC
    rng = np.random.default_rng(3)
    dim, n = 3000, 5
    start = rng.normal(0, 0.1, dim)
    plain, secure = ServerSGD(lr=0.7, momentum=0.9), ServerSGD(lr=0.7, momentum=0.9)
    params_plain, params_mpc = start.copy(), start.copy()
    for round_id in range(4):
        updates = [rng.normal(0, 0.05, dim) for _ in range(n)]
        weights = tuple(float(w) for w in rng.dirichlet(np.ones(n)))
        spec = RoundSpec(
            round_id=round_id,
            dim=dim,
            weights=weights,
            server_lr=secure.lr,
            public_offset=secure.public_offset(params_mpc),
        )
        # Execute
        outcome = replicated_committee.run_round(spec, member_shares(updates))
        params_plain = plain.step(params_plain, weighted_sum(updates, weights))
        assert outcome.params is not None
        secure.observe(params_mpc, outcome.params)
        params_mpc = outcome.params
        # Assert
        assert outcome.accepted == (True,) * n
        assert np.max(np.abs(params_mpc - params_plain)) <= TOL
        assert outcome.protocol == "replicated" and outcome.provider == "none"
        assert outcome.comm_bytes > 0 and outcome.comm_rounds > 0
    assert all(
        o.params is not None and np.array_equal(o.params, params_mpc)
        for o in replicated_committee.last_outcomes
    )


@pytest.mark.timeout(240)
def test_sealed_envelopes_are_opened_inside_the_members(
    replicated_committee: LocalCommittee,
) -> None:
    rng = np.random.default_rng(4)
    dim, model_hash = 500, b"\x11" * 32
    members = [X25519PrivateKey.generate() for _ in range(3)]
    member_pubs = [
        m.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        for m in members
    ]
    signers = [Ed25519PrivateKey.generate() for _ in range(3)]
    updates = [rng.normal(0, 0.1, dim) for _ in signers]
    sealed = [
        seal_contribution(
            u,
            member_keys=member_pubs,
            signing_key=s,
            round_id=9,
            model_hash=model_hash,
            contributor_id=f"c{i}",
        )
        for i, (u, s) in enumerate(zip(updates, signers, strict=True))
    ]
    inputs = [
        SealedInputs(
            tuple(env[j] for env in sealed),
            _raw(members[j]),
            tuple(_raw(s) for s in signers),
            model_hash,
            tuple(f"c{i}" for i in range(len(signers))),
        )
        for j in range(3)
    ]
    spec = RoundSpec(round_id=9, dim=dim, weights=(1.0, 1.0, 1.0), public_offset=np.zeros(dim))
    outcome = replicated_committee.run_round(spec, inputs)
    assert outcome.params is not None
    assert np.max(np.abs(outcome.params - weighted_sum(updates, [1.0] * 3))) <= TOL
    for member in replicated_committee.last_outcomes:  # what the benchmark reports
        assert [name for name, _ in member.phase_seconds] == [
            "open",
            "stack",
            "validate",
            "aggregate",
        ]
        assert member.cpu_seconds > 0


def _wrapping(dim: int) -> np.ndarray:
    """Encoded values whose squares vanish mod 2**64: passes any ring norm check."""
    x = np.zeros(dim, dtype=np.int64)
    x[:4] = 2**32  # four coordinates of 65536.0, each squaring to 2**64 = 0 in the ring
    x[4:8] = -(2**31) * 3  # each squares to 9 * 2**62 = 2**62 mod 2**64; four sum to 0
    return x


@pytest.mark.timeout(240)
def test_rejects_norm_range_and_wrap_and_aggregates_the_rest_exactly(
    replicated_committee: LocalCommittee,
) -> None:
    # Prepare: C = 1, B = 16 (>= 13 C: honest rejection < 1e-7)
    rng = np.random.default_rng(5)
    dim = 4000
    honest = [rng.normal(0, 0.5 / np.sqrt(dim), dim) for _ in range(3)]  # norm about 0.5
    too_long = rng.normal(0, 2.0 / np.sqrt(dim), dim)  # norm about 2
    wrap = _wrapping(dim)
    updates = [honest[0], too_long, honest[1], wrap, honest[2]]
    weights = (0.5, 1.0, 0.25, 1.0, 2.0)
    spec = RoundSpec(
        round_id=20,
        dim=dim,
        weights=weights,
        public_offset=np.zeros(dim),
        clip_norm=1.0,
        range_bound=16.0,
    )
    # Execute
    outcome = replicated_committee.run_round(spec, member_shares(updates))
    # Assert: only the honest ones, aggregated exactly
    assert outcome.accepted == (True, False, True, False, True)
    expected = weighted_sum(honest, [0.5, 0.25, 2.0])
    assert outcome.params is not None
    assert np.max(np.abs(outcome.params - expected)) <= TOL


@pytest.mark.timeout(240)
def test_a_model_wider_than_one_norm_block_is_checked_per_block_and_aggregated(
    replicated_committee: LocalCommittee,
) -> None:
    # Prepare: C = 256, B = 4096: W = 127 coordinates a block, D = 4000 (32 blocks), which
    # D * (B * 2**16)**2 < 2**63 alone refused; one too long, one with a block past C
    rng = np.random.default_rng(8)
    dim, clip, bound = 4000, 256.0, 4096.0
    assert norm_block(bound, dim) == 127 and check_parameters(dim, clip, bound) is None
    honest = [rng.normal(0, 0.5 * clip / np.sqrt(dim), dim) for _ in range(3)]
    too_long = rng.normal(0, 2.0 * clip / np.sqrt(dim), dim)
    one_block = np.zeros(dim)
    one_block[128:136] = 0.4 * clip  # norm 1.13 C, all in block 1
    updates = [honest[0], too_long, honest[1], one_block, honest[2]]
    spec = RoundSpec(
        round_id=21,
        dim=dim,
        weights=(0.5, 1.0, 0.25, 1.0, 2.0),
        public_offset=np.zeros(dim),
        clip_norm=clip,
        range_bound=bound,
    )
    # Execute
    outcome = replicated_committee.run_round(spec, member_shares(updates))
    # Assert: only the honest ones, aggregated exactly
    assert outcome.accepted == (True, False, True, False, True)
    expected = weighted_sum(honest, [0.5, 0.25, 2.0])
    assert outcome.params is not None
    assert np.max(np.abs(outcome.params - expected)) <= TOL


@pytest.mark.timeout(240)
def test_without_the_range_check_a_wrapping_update_fools_the_norm_check(
    replicated_committee: LocalCommittee,
) -> None:
    """Why the coordinate check exists: the ring norm of the wrap vector is tiny."""
    dim = 1000
    spec = RoundSpec(
        round_id=21,
        dim=dim,
        weights=(1.0,),
        public_offset=np.zeros(dim),
        clip_norm=1.0,
        range_bound=None,
    )
    outcome = replicated_committee.run_round(spec, member_shares([_wrapping(dim)]))
    assert outcome.accepted == (True,)


@pytest.mark.timeout(240)
def test_one_coordinate_above_b_is_rejected_by_the_coordinate_check_alone(
    replicated_committee: LocalCommittee,
) -> None:
    dim, bound = 2000, 8.0
    rng = np.random.default_rng(6)
    small = rng.normal(0, 0.01, dim)
    spike = small.copy()
    spike[123] = 1.05 * bound
    spike_neg = small.copy()
    spike_neg[7] = -3 * bound
    spec = RoundSpec(
        round_id=22,
        dim=dim,
        weights=(1.0, 1.0, 1.0),
        public_offset=np.zeros(dim),
        clip_norm=None,
        range_bound=bound,
    )
    outcome = replicated_committee.run_round(spec, member_shares([small, spike, spike_neg]))
    assert outcome.accepted == (True, False, False)
    assert outcome.params is not None
    assert np.max(np.abs(outcome.params - small)) <= TOL


@pytest.mark.timeout(240)
def test_round_refused_below_min_contributors_reveals_no_model(
    replicated_committee: LocalCommittee,
) -> None:
    dim = 500
    rng = np.random.default_rng(7)
    updates = [rng.normal(0, 0.01, dim), rng.normal(0, 1.0, dim)]
    spec = RoundSpec(
        round_id=23,
        dim=dim,
        weights=(1.0, 1.0),
        public_offset=np.zeros(dim),
        clip_norm=1.0,
        min_contributors=2,
    )
    outcome = replicated_committee.run_round(spec, member_shares(updates))
    assert outcome.accepted == (True, False)
    assert outcome.params is None and outcome.refused is not None
    assert "min_contributors=2" in outcome.refused


@pytest.mark.timeout(240)
@pytest.mark.parametrize("threshold", [2, 0])
def test_noise_std_matches_sigma(replicated_committee: LocalCommittee, threshold: int) -> None:
    """Each member adds N(0, sigma^2/(k-t)): the total std is sigma*sqrt(k/(k-t))."""
    dim, sigma, lr, rounds = 20_000, 0.3, 0.5, 3
    offset = np.linspace(-1, 1, dim)
    samples = []
    for r in range(rounds):
        spec = RoundSpec(
            round_id=30 + r,
            dim=dim,
            weights=(1.0,),
            public_offset=offset,
            server_lr=lr,
            noise_std=sigma,
            collusion_threshold=threshold,
        )
        outcome = replicated_committee.run_round(spec, member_shares([np.zeros(dim)]))
        assert outcome.params is not None
        samples.append((outcome.params - offset) / lr)
    noise = np.concatenate(samples)
    expected = sigma * np.sqrt(3 / (3 - threshold))
    # std of a sample std with n = 60,000 is about 0.3 %: 3 % is 10 standard errors
    assert abs(noise.std() / expected - 1) < 0.03
    assert abs(noise.mean()) < 5 * expected / np.sqrt(noise.size)


@pytest.mark.timeout(240)
def test_a_dpals_round_publishes_its_twins_item_factors_within_the_codecs_error(
    replicated_committee: LocalCommittee,
) -> None:
    """The committee sums three DP-ALS contributions (no noise); the members' item solve on
    the revealed sum is the in-process solve within a bound derived from the codec: every
    value of the output is off by at most ``(K + 2) 2^-16`` (K encoded terms, the weights'
    and the step's truncations), the sum (``output / w``) by ``K`` times that, block ``b`` by
    that over its scale ``a_b``; with ``A_i >= lam I``, item ``i`` moves by at most
    ``(|e_i| + |E_i| |v_i|) / lam`` (``e_i`` the right-hand side's error, ``E_i`` its matrix's:
    ``dm gram' / n + (m / n + w0) dgram``). The published model is that solve smoothed by
    the revealed masses and the items' public metadata (the settings' smoothing), the same
    bits as :func:`~mpcrec.model.dpals_smooth.fixed_order_smooth` on them, and the
    simulation's smoothing of the twin to within the solve's bound, scaled."""
    from dataclasses import replace

    from mpcrec.model.dpals import (
        bound_users,
        local_statistics,
        smooth_items,
        solve_items,
        solve_users,
        unpack,
    )
    from mpcrec.model.dpals_release import (
        instance_release,
        published_items,
        runtime_config,
        scales,
        unscaled,
    )
    from mpcrec.model.dpals_smooth import fixed_order_smooth
    from mpcrec.model.dpals_train import metadata_features, metadata_items
    from mpcrec.model.tuned_dpals import ALS_DP
    from mpcrec.node.aggregation.dpals_step import next_model
    from tests.node.test_dpals_round import C_U, SHARDS, SPEC, _shards

    # Prepare
    split, homes = _shards()
    config = runtime_config(ALS_DP.dim)
    base = metadata_items(split, config.dim, config.init_std)
    users = [bound_users(solve_users(base, h.conf, config), config.user_norm) for h in homes]
    weights_of = [h.weights(config, None) for h in homes]
    updates = [instance_release(u, w, config, C_U) for u, w in zip(users, weights_of, strict=True)]
    k = len(SHARDS)
    weights = (1.0 / k,) * k
    spec = SPEC  # the members' solve reads the model kind and shape only
    round_spec = RoundSpec(
        round_id=30,
        dim=spec.contribution_size,
        weights=weights,
        public_offset=np.zeros(spec.contribution_size),
        clip_norm=spec.clip_norm,
        range_bound=spec.bound,
    )

    # Execute
    outcome = replicated_committee.run_round(round_spec, member_shares(updates))

    # Assert
    assert outcome.params is not None and outcome.accepted == (True,) * k
    features = metadata_features(split, words=config.smoothing_words)
    published = next_model(spec, outcome.params, weights, base.shape, lambda n: features)
    revealed = np.asarray(outcome.params) / weights[0]
    solved = published_items(revealed, replace(config, smoothing=0.0), spec.n_items, C_U)
    mass = unpack(unscaled(revealed, config, spec.n_items, C_U)[:-1], config)["mass"]
    smooth = {"strength": config.smoothing, "lam": config.smoothing_reg}
    assert config.smoothing > 0
    assert np.array_equal(published, fixed_order_smooth(solved, mass, features, **smooth))
    stats = sum(local_statistics(u, w, config) for u, w in zip(users, weights_of, strict=True))
    n_users = sum(u.shape[0] for u in users)
    twin = solve_items(np.asarray(stats), n_users, config)
    err = k * (k + 2) * 2.0**-16  # on every value of the sum
    a = scales(config, C_U)
    part = unpack(np.asarray(stats), config)
    d, n, gram = config.dim, n_users, part["global"]
    assert err / a["users"] < 0.5  # the count comes out exact
    matrix_err = (err / a["mass"]) * np.linalg.norm(gram) / n + (
        part["mass"] / n + config.unobserved
    ) * d * (err / a["global"])
    bound = (np.sqrt(d) * err / a["rhs"] + matrix_err * np.linalg.norm(twin, axis=1)) / config.reg
    moved = np.linalg.norm(solved - twin, axis=1)
    assert np.all(moved <= bound)
    assert float(np.abs(twin).max()) > 100 * float(bound.max())  # the bound is tight enough
    twin_smoothed = smooth_items(twin, part["mass"], features, **smooth)
    # the blend of a factor and its prediction moves no further than the worst solve error
    # (measured: 1e-5 against a bound of 6e-4)
    assert float(np.abs(published - twin_smoothed).max()) <= float(bound.max())


def test_a_grown_secure_round_equals_its_plaintext_twin(
    replicated_committee: LocalCommittee, tmp_path: Path
) -> None:
    # Prepare: a 6-row model (with momentum) whose round names a catalogue of 9 rows, row 2
    # retired; the base and the previous model grown by the public rule, updates frozen
    spec = FederationSpec(n_items=6, dim=4, clip_norm=1.0, server_momentum=0.5)
    rng = np.random.default_rng(9)
    previous, base = rng.normal(0, 0.1, (6, 4)), rng.normal(0, 0.1, (6, 4))
    retired = retired_flags([False, False, True], 9)
    grown = grow_base(base, 9, retired)
    before = grow_previous(previous, grown)
    assert before is not None and before.shape == (9, 4)
    updates = [
        clip_for_committee(freeze_retired(rng.normal(0, 0.1, (9, 4)), retired.tolist()), spec)
        for _ in range(3)
    ]
    weights = (1.0, 2.0, 0.5)
    names = ("a", "b", "c")
    plain = [
        Envelope(
            c,
            w,
            b"",
            seal_plain(
                u, round_id=7, model_hash=bytes(32), contributor=c, weight=w, params_hash=bytes(32)
            ),
        )
        for c, w, u in zip(names, weights, updates, strict=True)
    ]
    keys = NodeKeys.load_or_create(tmp_path / "keys")
    seat = Seat("a", keys, CertPaths(tmp_path, tmp_path, tmp_path), 30.0)
    ann: Any = SimpleNamespace(round_id=7, model_version=3)
    # Execute: the round the members run (its spec from the grown base) and its twin
    round_spec = SecureAggregation(spec, seat).round_spec(ann, plain, grown, before)
    outcome = replicated_committee.run_round(
        round_spec, member_shares([u.ravel() for u in updates])
    )
    twin, accepted = plain_round(
        plain, spec=spec, round_id=7, model=grown, model_hash=bytes(32), previous=before
    )
    # Assert: the round's dimension is the grown model's; within the codec's tolerance
    assert round_spec.dim == 9 * 4 and accepted == names
    assert outcome.params is not None
    secure = keep_retired(outcome.params.reshape(9, 4), grown, retired)
    assert np.max(np.abs(secure - keep_retired(twin, grown, retired))) <= TOL
    assert secure[2].tobytes() == base[2].tobytes()  # the retired row did not move
    assert np.abs(secure[6:]).min() > 0  # the new rows did
