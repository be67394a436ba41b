"""The secure round in real member processes, against its plaintext twin.

All tests in this module share one warm replicated committee (one xdist group).
"""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from committees.local_committee import LocalCommittee
from committees.session import SealedInputs
from mpcrec.crypto.envelope import seal_contribution
from mpcrec.model.server import ServerSGD, weighted_sum
from mpcrec.secure.program import RoundSpec
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
