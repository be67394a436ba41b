"""The launcher keeps the declared privacy budget: :class:`launch.budget.PrivacyBudget` and the
rounds a :class:`launch.launcher.Launcher` opens (or refuses to open) with it."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.budget import PrivacyBudget
from launch.launcher import Launcher, Schedule
from launch.memory_store import InMemoryStore
from launch.round import RoundPolicy
from launch.sqlite_store import SQLiteStore
from launch.store import PublishedModel
from mpcrec.audit import entries
from mpcrec.audit.entries import Kind, RoundResult, public_key_bytes
from mpcrec.audit.log import AuditLog
from mpcrec.audit.schema import payload_error
from mpcrec.crypto.keys import NodeKeys
from mpcrec.federation.spec import FederationSpec, PrivacyPromise
from mpcrec.privacy.accountant import gaussian_epsilon
from mpcrec.privacy.budget import epsilon_spent, rounds_within_budget
from tests.launch.instances import register_instances

DELTA = 1e-5

# -- the budget's state ---------------------------------------------------------------------


def test_budget_counts_down_as_rounds_publish_until_spent() -> None:
    promise = PrivacyPromise(epsilon_budget=8.0, delta=DELTA)
    budget = PrivacyBudget(promise, mechanism=(4.0, 1.0), spent=[(4.0, 1.0)] * 42)

    before = budget.affordable
    budget.record_revealed()
    after = budget.affordable, budget.spent()
    budget.record_revealed()

    assert (before, after) == (2, (1, False))
    # 44 rounds of z = 4 at sample rate 1: the exact curve (RDP affords 39)
    assert budget.affordable == 0 and budget.spent() and budget.rounds == 44
    assert budget.epsilon() == pytest.approx(epsilon_spent([(4.0, 1.0)] * 44, delta=DELTA))
    assert budget.epsilon() <= 8.0 < epsilon_spent([(4.0, 1.0)] * 45, delta=DELTA)


def test_budget_counts_rounds_published_with_other_noise_at_their_own() -> None:
    spent = [(2.0, 1.0), (3.0, 1.0)]
    promise = PrivacyPromise(epsilon_budget=8.0, delta=DELTA)

    budget = PrivacyBudget(promise, mechanism=(4.0, 1.0), spent=spent)

    assert budget.epsilon() == pytest.approx(epsilon_spent(spent, delta=DELTA))
    assert budget.affordable == rounds_within_budget(spent, (4.0, 1.0), delta=DELTA, budget=8.0)


def test_without_a_promise_nothing_is_ever_spent() -> None:
    budget = PrivacyBudget(PrivacyPromise(), mechanism=(0.0, 1.0), spent=[(0.0, 1.0)] * 3)

    budget.record_revealed()

    assert budget.affordable is None and not budget.spent()
    assert budget.epsilon() == math.inf and budget.rounds == 4


def test_announce_warns_when_the_schedule_asks_for_more_than_the_budget_affords(
    caplog: pytest.LogCaptureFixture,
) -> None:
    promise = PrivacyPromise(epsilon_budget=8.0, delta=DELTA)
    budget = PrivacyBudget(promise, mechanism=(4.0, 1.0), spent=[])

    with caplog.at_level(logging.INFO, logger="mpcrec.launcher"):
        budget.announce(44)
        enough = [r.levelno for r in caplog.records]
        caplog.clear()
        budget.announce(50)

    assert enough == [logging.INFO]
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.WARNING]
    assert "affords only 44" in caplog.records[-1].getMessage()


POLICY = RoundPolicy(committee_size=2, min_contributors=2, commit_s=5, reveal_s=5)
NOISY = FederationSpec(n_items=2, dim=2, aggregation="secure", noise_multiplier=4.0)


def _store_with_published(versions: int) -> InMemoryStore:
    store = InMemoryStore()
    for version in range(versions + 1):
        store.put_model(PublishedModel.from_array(version, [[0.0, 0.0], [0.0, 0.0]]))
    return store


def test_launcher_opens_no_round_the_budget_cannot_pay_for(tmp_path: Path) -> None:
    affordable = rounds_within_budget([], (4.0, 1.0), delta=DELTA, budget=8.0)  # 44
    privacy = PrivacyPromise(epsilon_budget=8.0)

    spent = Launcher(_store_with_published(affordable), policy=POLICY, spec=NOISY, privacy=privacy)
    register_instances(spent, tmp_path)
    spent.advance()
    assert spent.current() is None and spent.budget_spent() and spent.finished()
    assert spent.epsilon() == pytest.approx(
        gaussian_epsilon(noise_multiplier=4.0, steps=affordable, delta=DELTA)
    )

    one_left = Launcher(
        _store_with_published(affordable - 1), policy=POLICY, spec=NOISY, privacy=privacy
    )
    register_instances(one_left, tmp_path)
    one_left.advance()
    opened = one_left.current()
    assert opened is not None and opened.round_id == 1
    assert not one_left.budget_spent() and not one_left.finished()
    one_left.budget.record_revealed()  # a member revealed round 1's result: the last round
    assert one_left.budget_spent() and not one_left.finished()  # it still publishes


def test_launcher_without_a_budget_never_stops_for_privacy(tmp_path: Path) -> None:
    launcher = Launcher(
        _store_with_published(10_000),
        policy=POLICY,
        spec=FederationSpec(n_items=2, dim=2),
        schedule=Schedule(),
    )
    register_instances(launcher, tmp_path)
    launcher.advance()
    assert launcher.current() is not None and not launcher.finished()
    assert launcher.epsilon() == math.inf


@pytest.mark.parametrize("budget", [None, 8.0])
def test_launcher_logs_the_declared_promise(tmp_path: Path, budget: float | None) -> None:
    key = Ed25519PrivateKey.generate()
    store = SQLiteStore(tmp_path / "launcher.sqlite")
    try:
        Launcher(
            store,
            policy=POLICY,
            spec=NOISY,
            audit=AuditLog(store.connection, launcher_key=key),
            launcher_key=public_key_bytes(key),
            privacy=PrivacyPromise(epsilon_budget=budget, delta=1e-6),
        )
        logged = list(AuditLog(store.connection, launcher_key=None).entries())
    finally:
        store.close()
    config = [e for e in logged if e.kind == Kind.CONFIG]
    assert len(config) == 1 and payload_error(config[0]) is None
    assert config[0].payload["epsilon_budget"] == budget
    assert config[0].payload["delta"] == 1e-6
    assert config[0].payload["privacy_unit"] == "instance"


def test_restarted_launcher_counts_the_rounds_its_log_says_were_revealed(
    tmp_path: Path,
) -> None:
    """The spent rounds come from the members' signed results in the log (what an auditor
    counts), not from this run's configuration: a round revealed with other noise counts
    with that noise, a round aborted after a member revealed its result counts, one aborted
    before costs nothing."""
    key = Ed25519PrivateKey.generate()
    member = NodeKeys.load_or_create(tmp_path / "a")
    store = SQLiteStore(tmp_path / "launcher.sqlite")
    try:
        log = AuditLog(store.connection, launcher_key=key)
        registration = entries.registration(
            instance_id="a",
            signing_key=member.signing_public,
            sealing_key=member.sealing_public,
            address="a:1",
        )
        log.append(registration.sign(member.signing))
        digest = b"\x01" * 32
        for round_id, z in ((1, 2.0), (2, 3.0), (3, 5.0)):
            result = RoundResult(
                round_id=round_id,
                model_version=round_id,
                model_hash=digest,
                accepted={"a": digest},
                rejected={},
                noise_multiplier=z,
                sample_rate=1.0,
                params_hash=digest,
                weights={"a": 1.0},
                sensitivity="replace-one",
            )
            log.append(entries.result_signature(member="a", result=result).sign(member.signing))
            if round_id < 3:
                log.append(
                    entries.publish(round_id=round_id, model_version=round_id, model_hash=digest)
                )
        log.append(entries.abort(round_id=3, reason="published no model"))  # revealed: counts
        log.append(entries.abort(round_id=4, reason="member timed out"))  # costs nothing

        restarted = Launcher(
            store,
            policy=POLICY,
            spec=NOISY,
            audit=log,
            launcher_key=public_key_bytes(key),
            privacy=PrivacyPromise(epsilon_budget=8.0),
        )
        spent = restarted.epsilon()
    finally:
        store.close()
    assert spent == pytest.approx(epsilon_spent([(2.0, 1.0), (3.0, 1.0), (5.0, 1.0)], delta=DELTA))
    assert not restarted.budget_spent()
