"""``user_budget``: the auditor recomputes user-level ε from the signed z and q of every
revealed round and holds a user-level run to its declared budget and one mechanism."""

from __future__ import annotations

from dataclasses import replace

from mpcrec.audit import checks
from mpcrec.audit.entries import Kind
from mpcrec.audit.simulate import FederationLog, simulate_federation
from mpcrec.audit.verify import verify_entries
from mpcrec.privacy.budget import epsilon_spent
from tests.audit.test_checks import history_of


def _user_run(rounds: int, budget: float, z: float = 1.0) -> FederationLog:
    return simulate_federation(
        rounds=rounds,
        instances=6,
        cooldown=1,
        noise_multiplier=z,
        sample_rate=0.2,
        user_clip_norm=0.1,
        epsilon_budget=budget,
    )


def test_the_user_level_epsilon_is_the_accountant_s_of_the_signed_mechanisms() -> None:
    findings, epsilon = checks.check_user_budget(history_of(_user_run(4, budget=8.0).entries))

    assert findings == []
    assert epsilon == epsilon_spent([(1.0, 0.2)] * 4, delta=1e-5)
    # the instance-level rule leaves a user-level run to this one
    assert checks.check_budget(history_of(_user_run(4, budget=8.0).entries))[0] == []


def test_a_log_spending_beyond_its_user_level_budget_fails_user_budget() -> None:
    """ε after 1..6 rounds of (z=1, q=0.2): the budget lies between rounds 3 and 4."""
    budget = (
        epsilon_spent([(1.0, 0.2)] * 3, delta=1e-5) + epsilon_spent([(1.0, 0.2)] * 4, delta=1e-5)
    ) / 2
    sim = _user_run(6, budget=budget)
    entries = sim.entries
    findings, _ = checks.check_user_budget(history_of(entries))
    published = [e for e in entries if e.kind == Kind.PUBLISH]

    assert [(f.rule, f.index) for f in findings] == [("user_budget", published[3].index)]
    assert "round 4: cumulative user-level epsilon" in findings[0].message
    heads = [(f"line {i}", h) for i, h in enumerate(sim.heads)]
    report = verify_entries(entries, heads)
    assert not report.ok and "user_budget" in {f.rule for f in report.findings}
    assert report.stats["epsilon"] == epsilon_spent([(1.0, 0.2)] * 6, delta=1e-5)


def test_a_result_signing_another_mechanism_than_the_parameters_is_named() -> None:
    forged = []
    for e in _user_run(2, budget=8.0).entries:
        if e.kind == Kind.RESULT_SIGNATURE and e.round == 2:
            result = dict(e.payload["result"]) | {"sample_rate": 0.01}
            e = replace(e, payload={**e.payload, "result": result})
        forged.append(e)

    findings, _ = checks.check_user_budget(history_of(forged))

    assert {f.rule for f in findings} == {"user_budget"} and "round 2" in findings[0].message


def test_a_user_level_mechanism_changed_mid_run_is_named() -> None:
    """A second config entry in force from round 3 with a smaller z: named at that entry
    (the parameters of a user-level run are one mechanism, announced once)."""
    history = history_of(_user_run(4, budget=8.0).entries)
    first = history.rounds[0].config
    assert first is not None
    params = dict(first.payload["params"]) | {"noise_multiplier": 0.5}
    changed = replace(first, payload={**first.payload, "params": params})
    for record in history.rounds[2:]:
        record.config = changed

    findings, _ = checks.check_user_budget(history)

    rules = [(f.rule, "changed mid-run" in f.message) for f in findings]
    assert ("user_budget", True) in rules and all(rule == "user_budget" for rule, _ in rules)
