"""The privacy budget: the shared arithmetic, the declared promise, and the launcher keeping it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from launch.config import LauncherConfig
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
from mpcrec.errors import ConfigError
from mpcrec.federation.spec import FederationSpec, PrivacyPromise
from mpcrec.privacy.accountant import gaussian_epsilon
from mpcrec.privacy.budget import epsilon_spent, first_over_budget, rounds_within_budget

DELTA = 1e-5


# -- the arithmetic ------------------------------------------------------------------------


def test_epsilon_spent_equals_the_accountant_and_is_infinite_without_noise() -> None:
    rounds = [(1.5, 0.04)] * 30
    assert epsilon_spent(rounds, delta=DELTA) == pytest.approx(
        gaussian_epsilon(noise_multiplier=1.5, steps=30, delta=DELTA, sample_rate=0.04),
        rel=1e-12,
    )
    assert epsilon_spent([*rounds, (0.0, 1.0)], delta=DELTA) == math.inf
    assert epsilon_spent([], delta=DELTA) == 0.0


@pytest.mark.parametrize(
    ("spent", "z", "budget"),
    [([], 4.0, 8.0), ([], 20.0, 3.0), ([(2.0, 1.0)] * 3, 6.0, 9.5), ([(1.0, 1.0)], 3.0, 6.0)],
)
def test_rounds_within_budget_is_the_last_count_that_fits(
    spent: list[tuple[float, float]], z: float, budget: float
) -> None:
    n = rounds_within_budget(spent, (z, 1.0), delta=DELTA, budget=budget)

    def eps(more: int) -> float:
        return epsilon_spent([*spent, *[(z, 1.0)] * more], delta=DELTA)

    assert n >= 1
    assert eps(n) <= budget < eps(n + 1)


def test_rounds_within_budget_zero_when_nothing_fits_and_capped_by_the_limit() -> None:
    assert rounds_within_budget([], (0.0, 1.0), delta=DELTA, budget=1e9) == 0
    assert rounds_within_budget([(1.0, 1.0)] * 3, (50.0, 1.0), delta=DELTA, budget=8.0) == 0
    assert rounds_within_budget([], (1e4, 1.0), delta=DELTA, budget=1e3, limit=50) == 50


def test_first_over_budget_equals_a_linear_scan() -> None:
    rounds = [(3.0, 1.0)] * 10 + [(1.0, 1.0)] * 10
    for budget in (2.0, 5.0, 9.0, 50.0):
        scan = next(
            (n for n in range(1, 21) if epsilon_spent(rounds[:n], delta=DELTA) > budget), None
        )
        assert first_over_budget(rounds, delta=DELTA, budget=budget) == scan
    assert first_over_budget(rounds, delta=DELTA, budget=math.inf) is None


# -- the declared promise ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"epsilon_budget": 0.0}, "epsilon_budget 0.0"),
        ({"epsilon_budget": math.inf}, "finite"),
        ({"delta": 0.0}, "delta 0.0"),
        ({"delta": 1.0}, "delta 1.0"),
        ({"unit": "user"}, "'user' is not implemented"),
    ],
)
def test_privacy_promise_refuses_bad_values(fields: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError) as bad:
        PrivacyPromise(**fields)  # type: ignore[arg-type]
    assert words in bad.value.message and bad.value.hint


def _federation_yaml(tmp_path: Path, model: str, privacy: str | None) -> Path:
    path = tmp_path / "federation.yaml"
    text = f"listen: 127.0.0.1:1\ntls: {{cert: a, key: b, ca: c}}\nmodel: {model}\n"
    path.write_text(text + (f"privacy: {privacy}\n" if privacy is not None else ""))
    return path


SECURE = "{n_items: 3, dim: 2, aggregation: secure, noise_multiplier: 2.0}"


def test_config_reads_the_privacy_section(tmp_path: Path) -> None:
    absent = LauncherConfig.load(_federation_yaml(tmp_path, SECURE, None))
    assert absent.privacy == PrivacyPromise(epsilon_budget=None, delta=1e-5, unit="instance")
    null = LauncherConfig.load(_federation_yaml(tmp_path, SECURE, "{epsilon_budget: null}"))
    assert not null.privacy.declared
    declared = LauncherConfig.load(
        _federation_yaml(tmp_path, SECURE, "{epsilon_budget: 8, delta: 1e-6, unit: instance}")
    )
    assert declared.privacy == PrivacyPromise(epsilon_budget=8.0, delta=1e-6, unit="instance")


@pytest.mark.parametrize(
    ("model", "privacy", "words"),
    [
        (SECURE, "{epsilon_budget: 8, epsilon: 3}", "unknown setting(s) ['epsilon']"),
        (SECURE, "{epsilon_budget: lots}", "`privacy.epsilon_budget` = 'lots' is not a float"),
        (SECURE, "{epsilon_budget: -2}", "`privacy`: epsilon_budget -2.0 must be"),
        (SECURE, "{delta: 2}", "`privacy`: delta 2.0 must be"),
        (
            "{n_items: 3, dim: 2, aggregation: secure}",
            "{epsilon_budget: 8}",
            "cannot pay for a single round: `model.noise_multiplier` 0 spends epsilon inf",
        ),
        (SECURE, "{epsilon_budget: 0.5}", "cannot pay for a single round"),
        (
            "{n_items: 3, dim: 2, aggregation: plaintext, noise_multiplier: 2.0}",
            "{epsilon_budget: 8}",
            "'plaintext'",
        ),
    ],
)
def test_config_refuses_a_promise_it_cannot_keep(
    tmp_path: Path, model: str, privacy: str, words: str
) -> None:
    path = _federation_yaml(tmp_path, model, privacy)
    with pytest.raises(ConfigError) as bad:
        LauncherConfig.load(path)
    assert str(path) in bad.value.message
    assert words in bad.value.message


# -- the launcher keeps it -----------------------------------------------------------------

POLICY = RoundPolicy(committee_size=2, min_contributors=2, commit_s=5, reveal_s=5)
NOISY = FederationSpec(n_items=2, dim=2, aggregation="secure", noise_multiplier=4.0)


def _registered(launcher: Launcher, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        keys = NodeKeys.load_or_create(tmp_path / name)
        entry = entries.registration(
            instance_id=name,
            signing_key=keys.signing_public,
            sealing_key=keys.sealing_public,
            address=f"{name}:1",
        )
        signature = entry.sign(keys.signing).signature
        launcher.register(name, keys.signing_public, keys.sealing_public, f"{name}:1", signature)


def _store_with_published(versions: int) -> InMemoryStore:
    store = InMemoryStore()
    for version in range(versions + 1):
        store.put_model(PublishedModel.from_array(version, [[0.0, 0.0], [0.0, 0.0]]))
    return store


def test_launcher_opens_no_round_the_budget_cannot_pay_for(tmp_path: Path) -> None:
    affordable = rounds_within_budget([], (4.0, 1.0), delta=DELTA, budget=8.0)  # 39
    privacy = PrivacyPromise(epsilon_budget=8.0)

    spent = Launcher(_store_with_published(affordable), policy=POLICY, spec=NOISY, privacy=privacy)
    _registered(spent, tmp_path)
    spent.advance()
    assert spent.current() is None and spent.budget_spent() and spent.finished()
    assert spent.epsilon() == pytest.approx(
        gaussian_epsilon(noise_multiplier=4.0, steps=affordable, delta=DELTA)
    )

    one_left = Launcher(
        _store_with_published(affordable - 1), policy=POLICY, spec=NOISY, privacy=privacy
    )
    _registered(one_left, tmp_path)
    one_left.advance()
    opened = one_left.current()
    assert opened is not None and opened.round_id == 1
    assert not one_left.budget_spent() and not one_left.finished()


def test_launcher_without_a_budget_never_stops_for_privacy(tmp_path: Path) -> None:
    launcher = Launcher(
        _store_with_published(10_000),
        policy=POLICY,
        spec=FederationSpec(n_items=2, dim=2),
        schedule=Schedule(),
    )
    _registered(launcher, tmp_path)
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


def test_restarted_launcher_counts_the_rounds_its_log_says_were_published(
    tmp_path: Path,
) -> None:
    """The spent rounds come from the members' signed results in the log (what an auditor
    counts), not from this run's configuration: a round published with other noise counts
    with that noise."""
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
        for round_id, z in ((1, 2.0), (2, 3.0)):
            result = RoundResult(
                round_id=round_id,
                model_version=round_id,
                model_hash=digest,
                accepted={"a": digest},
                rejected={},
                noise_multiplier=z,
                sample_rate=1.0,
            )
            log.append(entries.result_signature(member="a", result=result).sign(member.signing))
            log.append(
                entries.publish(round_id=round_id, model_version=round_id, model_hash=digest)
            )
        log.append(entries.abort(round_id=3, reason="member timed out"))  # costs nothing

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
    assert spent == pytest.approx(epsilon_spent([(2.0, 1.0), (3.0, 1.0)], delta=DELTA))
    assert not restarted.budget_spent()
