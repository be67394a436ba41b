"""A DP-ALS federation with its count release (``ALS_DP``'s head of the catalogue) through
the in-process launcher and real node daemons, against the simulation's plaintext twin.

Round 1 (on the initial model) is the count release at ``z_count``, round 2 the statistics
over the head at ``z``; both multipliers derived from ε = 8 (exact GDP). Plaintext, so the
committee's noise is drawn from each round's public seed: the twin draws the same noise,
adds it to the simulation's own counts and statistics
(:func:`mpcrec.model.dpals_train.noisy_counts`' sum, :meth:`Home.weights` with those
counts, :func:`~mpcrec.model.dpals_train.post_process`) and must choose the same head and
publish the same item factors (to float rounding). The secure path of the same two rounds:
tests/system/test_dpals_federation.py (real processes, CrypTen). Also: the audit recomputes
ε 8 from the two rounds' signed multipliers, and a node refuses a launcher that moves
budget between the two releases, or gives the count release less noise
(``floor-user-dp``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.launcher import Launcher
from launch.memory_store import InMemoryStore
from launch.schedule import Schedule
from mpcrec.audit import checks
from mpcrec.audit.entries import Kind, LogEntry
from mpcrec.audit.log import AuditLog
from mpcrec.audit.verify import parse_lines, verify_file
from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import partition_users
from mpcrec.data.split import leave_last_out
from mpcrec.federation.dpals_noise import COUNT_ROUNDS, dpals_multipliers
from mpcrec.federation.spec import FederationSpec, PrivacyPromise
from mpcrec.model.dpals import bound_users, local_statistics, solve_items, solve_users, unpack
from mpcrec.model.dpals_counts import count_weights, published_head
from mpcrec.model.dpals_release import runtime_config, unscaled
from mpcrec.model.dpals_train import Home, post_process
from mpcrec.model.tuned_dpals import ALS_DP
from mpcrec.node.config import PrivacyFloor
from mpcrec.node.count_split import planned_releases
from mpcrec.node.daemon import Node
from mpcrec.node.dpals_trainer import MovieLensDPALSTrainer
from mpcrec.node.floor import check_params
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.user_dp import UserBudget
from mpcrec.privacy.budget import epsilon_spent
from tests.audit.test_checks import history_of
from tests.node.world import POLICY, World, drive, node_config, published, publishing_round

INSTANCES, SHARDS = 20, (9, 10, 11)
NAMES = [f"ml-{k:02d}" for k in SHARDS]
C_U, EPSILON, DELTA = 0.1, 8.0, 1e-5
Z, Z_COUNT = dpals_multipliers(EPSILON, DELTA)
SPEC = FederationSpec(
    n_items=1682,
    dim=ALS_DP.dim,
    aggregation="plaintext",
    clip_norm=40.0,
    sensitivity="user",
    user_clip_norm=C_U,
    user_rate=1.0,
    model="dpals",
    noise_multiplier=Z,
    count_noise_multiplier=Z_COUNT,
)
PARAMS = SPEC.params(committee_size=3, min_contributors=3)
FLOOR = PrivacyFloor(allow_plaintext=True)


def _launcher(spec: FederationSpec) -> Launcher:
    key = Ed25519PrivateKey.generate()
    audit = AuditLog(sqlite3.connect(":memory:", check_same_thread=False), launcher_key=key)
    promise = PrivacyPromise(
        epsilon_budget=EPSILON, delta=DELTA, unit="user", user_rate=1.0, user_clip_norm=C_U
    )
    return Launcher(
        InMemoryStore(),
        policy=POLICY,
        spec=spec,
        schedule=Schedule(rounds=COUNT_ROUNDS, min_instances=len(NAMES), retry_s=0.0),
        audit=audit,
        launcher_key=key.public_key().public_bytes_raw(),
        privacy=promise,
    )


def _world(tmp_path: Path, spec: FederationSpec) -> World:
    world = World(_launcher(spec), {})
    for name, k in zip(NAMES, SHARDS, strict=True):
        config = node_config(tmp_path, name, privacy_floor=FLOOR)
        world.add(Node(config, MovieLensDPALSTrainer(k, INSTANCES, seed=0)))
    return world


def _committee_noise(seed: bytes, base_version: int, size: int) -> np.ndarray:
    """The noise the plaintext committee added to the SUM of the contributions (its draw
    from the round's public seed, over the equal weights ``1/3``)."""
    weight = 1.0 / len(NAMES)
    sigma = SPEC.noise_std([weight] * len(NAMES), base_version)
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "big"))
    return rng.normal(0.0, sigma, size=size) / weight


def _twin(base: np.ndarray, seeds: tuple[bytes, bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The simulation's head and published item factors from the same noise draws."""
    data = load_movielens_100k()
    split = leave_last_out(data)
    partition = partition_users(data, INSTANCES, seed=0)
    config = runtime_config(ALS_DP.dim, counts=True)
    homes = [Home.create(split, partition.members(k), config) for k in SHARDS]
    size = SPEC.contribution_size
    noise = _committee_noise(seeds[0], 0, size)[: SPEC.n_items] / C_U
    counts = sum(count_weights(h, config).sum(axis=0) for h in homes) + noise
    head = np.zeros(SPEC.n_items, dtype=bool)
    head[np.argsort(-counts, kind="stable")[: config.head_items]] = True
    total = np.zeros(size - 1)
    for home in homes:
        users = bound_users(solve_users(base, home.conf, config), config.user_norm)
        total += local_statistics(users, home.weights(config, counts), config)
    n_users = sum(h.conf.shape[0] for h in homes)
    noisy = np.concatenate([total, [n_users]])
    noisy += unscaled(_committee_noise(seeds[1], 1, size), config, SPEC.n_items, C_U)
    items = solve_items(noisy[:-1], max(round(float(noisy[-1])), 1), config)
    mass = unpack(noisy[:-1], config)["mass"]
    return head, post_process(items, mass, counts, split, config)


@pytest.mark.timeout(240)
def test_two_rounds_publish_the_simulations_head_and_items_and_audit_to_epsilon_8(
    tmp_path: Path,
) -> None:
    # Prepare
    world = _world(tmp_path, SPEC)
    base = world.launcher.model(0).array()

    # Execute
    world.register_all()
    drive(world, published(world, 2), steps=100)

    # Assert: round 1 published the start over the head the twin chooses from its counts
    seeds = (publishing_round(world, 1).seed, publishing_round(world, 2).seed)
    head, items = _twin(base, seeds)
    first, second = world.launcher.model(1).array(), world.launcher.model(2).array()
    assert head.sum() == ALS_DP.head_items == published_head(first).sum()
    np.testing.assert_array_equal(published_head(first), head)
    np.testing.assert_array_equal(first[head], base[head])
    # round 2: the statistics over that head, rows outside it 0, as the simulation's
    assert float(np.abs(second - first).max()) > 0.01
    np.testing.assert_array_equal(published_head(second), head)
    np.testing.assert_allclose(second, items, rtol=0, atol=1e-9)
    # the audit recomputes epsilon from the two rounds' signed multipliers
    log = world.launcher.trail.log
    assert log is not None
    log.sign_head()
    log.export_jsonl(tmp_path / "audit.jsonl")
    report = verify_file(tmp_path / "audit.jsonl", workers=1)
    named = [f for f in report.findings if f.rule in ("user_budget", "params", "budget")]
    assert [f.message for f in named] == [  # the test's plaintext committee, nothing else
        "round 1: a privacy budget with aggregation 'plaintext' (members see every update)"
    ]
    assert float(report.stats["epsilon"]) == pytest.approx(EPSILON, abs=5e-4)
    assert world.launcher.budget_spent()
    # a count release whose results sign the statistics' z is named (each round its own z)
    entries, _, _ = parse_lines((tmp_path / "audit.jsonl").read_bytes().splitlines())
    forged = [_signing(e, Z) if e.round == 1 else e for e in entries]
    findings, _ = checks.check_user_budget(history_of(forged))
    assert findings and all(f.rule == "user_budget" for f in findings)
    assert "round 1" in findings[0].message


def _signing(entry: LogEntry, z: float) -> LogEntry:
    """``entry`` with its signed result's noise multiplier replaced (a result entry)."""
    if entry.kind != Kind.RESULT_SIGNATURE:
        return entry
    result = dict(entry.payload["result"]) | {"noise_multiplier": z}
    return replace(entry, payload={**entry.payload, "result": result})


@pytest.mark.parametrize(
    ("z", "z_count", "why"),
    [
        (Z * 1.05, Z_COUNT * 0.7, "budget moved from the statistics to the counts"),
        (Z * 0.97, Z_COUNT * 3.0, "budget moved from the counts to the statistics"),
        (Z, Z_COUNT * 0.5, "the count release gets less noise"),
        (Z * 0.9, Z_COUNT, "the statistics get less noise"),
    ],
)
def test_a_node_refuses_multipliers_that_are_not_the_split_of_one_budget(
    z: float, z_count: float, why: str
) -> None:
    check_params(FLOOR, PARAMS)  # the launcher's own derivation passes
    shifted = replace(PARAMS, noise_multiplier=z, count_noise_multiplier=z_count)

    with pytest.raises(RoundRefused) as refused:
        check_params(FLOOR, shifted)

    assert refused.value.rule == "floor-user-dp", why
    assert "moved budget" in refused.value.detail


@pytest.mark.timeout(120)
def test_nodes_refuse_the_count_round_of_a_launcher_that_moves_budget(tmp_path: Path) -> None:
    """The refusal comes at the first round the launcher opens, the count release: no node
    uploads its counts, and nothing is published."""
    lying = replace(SPEC, noise_multiplier=Z * 1.05, count_noise_multiplier=Z_COUNT * 0.7)
    world = _world(tmp_path, lying)

    world.register_all()
    drive(world, lambda ann: ann.phase.value == "collecting", steps=30)
    for _ in range(5):
        world.launcher.advance()
        world.hand_out(world.current())

    assert world.launcher.model(-1).version == 0
    current = world.launcher.current()
    assert current is not None and current.model_version == 0
    assert world.launcher.store.contributions(current.round_id) == {}
    for name in NAMES:
        lines = (tmp_path / name / "refusals.jsonl").read_text().splitlines()
        rules = {json.loads(line)["rule"] for line in lines}
        assert rules == {"floor-user-dp"}, name


def test_a_node_capped_at_the_budget_refuses_a_pair_of_less_noise_at_the_count_round() -> None:
    """Both multipliers 1 % below the split of ε = 8: the exact split of a larger ε, so the
    split check passes; a node whose ``max_user_epsilon`` is 8 refuses the count round
    already (the two releases' ε), before it sends its counts."""
    capped = replace(FLOOR, max_user_epsilon=EPSILON)
    check_params(capped, PARAMS)  # the declared pair spends at most 8
    lower = replace(PARAMS, noise_multiplier=Z * 0.99, count_noise_multiplier=Z_COUNT * 0.99)
    check_params(FLOOR, lower)  # without a cap of its own a node cannot tell

    with pytest.raises(RoundRefused) as refused:
        check_params(capped, lower)

    assert refused.value.rule == "floor-user-dp"
    assert "spend epsilon 8.0978" in refused.value.detail
    assert "above max_user_epsilon 8" in refused.value.detail


def test_a_count_release_at_instance_level_is_refused_by_a_node_not_requiring_user_level() -> None:
    """A count release is a user-level plan (every user in both releases, the split of one
    user-level budget); at instance level its multiplier escaped every check of the floor
    (``floor-noise`` reads the statistics' ``z``): a node asking for instance-level noise
    0.5 sent counts under 1e-3 (before 2026-12-02, ``split``: this raised nothing)."""
    instance = replace(
        PARAMS, sensitivity="replace-one", noise_multiplier=1.0, count_noise_multiplier=1e-3
    )
    assert instance.release_noise_multiplier(0) == 1e-3  # the count round's noise
    floor = replace(FLOOR, min_noise_multiplier=0.5)  # require_user_level: false (default)

    with pytest.raises(RoundRefused) as refused:
        check_params(floor, instance)

    assert refused.value.rule == "floor-user-dp"
    assert "needs user level at rate 1" in refused.value.detail


def test_a_node_sends_no_counts_again_when_the_statistics_would_then_not_fit(
    tmp_path: Path,
) -> None:
    """A count round aborted after its reveal runs again: the node's users already spent
    one count release. Its cap affords the plan once but not with a second count release:
    it refuses the re-run before it sends counts (before 2026-12-02 it sent them, then
    refused the statistics round: the federation stalled), and the statistics still fit."""
    plan = epsilon_spent(planned_releases(PARAMS), delta=DELTA)
    again = epsilon_spent([PARAMS.release_mechanism(0), *planned_releases(PARAMS)], delta=DELTA)
    assert plan < again
    floor = replace(FLOOR, max_user_epsilon=(plan + again) / 2, user_delta=DELTA)
    budget = UserBudget(tmp_path)
    budget.check(floor, 1, PARAMS, 0)
    budget.record(1, PARAMS, 0)  # the first count round: revealed, then aborted

    with pytest.raises(RoundRefused) as refused:
        budget.check(floor, 2, PARAMS, 0)  # the count release again

    assert refused.value.rule == "floor-user-dp"
    assert "count release again (round 2)" in refused.value.detail
    budget.check(floor, 3, PARAMS, 1)  # the statistics round on the counts' model fits
