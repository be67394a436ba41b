"""The auditor recomputes ε with the accountant the log names: ``gdp`` (exact, every round at
sample rate 1) for logs of launchers that name it, RDP for logs written before the name,
and it never takes the name on trust."""

from __future__ import annotations

import pytest

from mpcrec.audit import checks
from mpcrec.audit.entries import Kind
from mpcrec.audit.simulate import FederationLog, simulate_federation
from mpcrec.audit.verify import Report, verify_entries
from mpcrec.privacy.accountant import gaussian_noise_multiplier
from mpcrec.privacy.budget import epsilon_spent
from mpcrec.privacy.gdp import composed_mu, gdp_epsilon
from tests.audit.test_checks import history_of

DELTA = 1e-5
#: The exact and the RDP calibrations of one user-level release at ε = 8 (DP-ALS's).
Z_EXACT = gaussian_noise_multiplier(target_epsilon=8.0, steps=1, delta=DELTA)
Z_RDP = gaussian_noise_multiplier(target_epsilon=8.0, steps=1, delta=DELTA, accountant="rdp")


def _dpals_run(z: float, *, accountant: str | None = None, rounds: int = 1) -> FederationLog:
    """A user-level run at ``q = 1`` (as DP-ALS's), budget 8, ``rounds`` revealed rounds."""
    return simulate_federation(
        rounds=rounds,
        instances=6,
        cooldown=1,
        noise_multiplier=z,
        sample_rate=1.0,
        user_clip_norm=0.1,
        epsilon_budget=8.0,
        accountant=accountant,
    )


def _report(sim: FederationLog) -> Report:
    return verify_entries(sim.entries, [(f"line {i}", h) for i, h in enumerate(sim.heads)])


def _verify(sim: FederationLog) -> tuple[bool, set[str], float]:
    report = _report(sim)
    return report.ok, {f.rule for f in report.findings}, report.stats["epsilon"]


def test_a_real_launcher_names_gdp_and_the_auditor_recomputes_the_exact_epsilon(
    real_log: FederationLog,
) -> None:
    """The real launcher's log (instance level, z = 4, every round at sample rate 1)."""
    configs = [e for e in real_log.entries if e.kind == Kind.CONFIG]
    assert {c.payload.get("accountant") for c in configs} == {"gdp"}
    findings, epsilon = checks.check_budget(history_of(real_log.entries))
    revealed = {e.round for e in real_log.entries if e.kind == Kind.RESULT_SIGNATURE}

    assert findings == []
    assert epsilon == pytest.approx(gdp_epsilon(composed_mu([4.0] * len(revealed)), DELTA))
    assert epsilon < epsilon_spent([(4.0, 1.0)] * len(revealed), delta=DELTA, accountant="rdp")


def test_a_user_level_run_at_the_exact_calibration_verifies_at_its_exact_epsilon() -> None:
    ok, rules, epsilon = _verify(_dpals_run(Z_EXACT))

    assert ok, rules
    assert epsilon == epsilon_spent([(Z_EXACT, 1.0)], delta=DELTA) and 7.999 < epsilon <= 8.0
    assert _report(_dpals_run(Z_EXACT)).stats["privacy"].endswith("(user level, accountant gdp)")


def test_a_launcher_claiming_an_epsilon_the_exact_curve_does_not_give_is_caught() -> None:
    """1 % less noise than the exact calibration: ε above 8 on the exact curve itself."""
    ok, rules, epsilon = _verify(_dpals_run(Z_EXACT * 0.99))

    assert not ok and "user_budget" in rules and epsilon > 8.0
    findings, _ = checks.check_user_budget(history_of(_dpals_run(Z_EXACT * 0.99).entries))
    assert "cumulative user-level epsilon" in findings[0].message


def test_an_old_log_verifies_by_rdp_at_the_figure_its_launcher_stopped_at() -> None:
    """A log written before the accountant was named (the 2026-12-01 demo's z = 0.6377):
    recomputed by RDP, the figure its launcher reported, and it still verifies."""
    old = _dpals_run(Z_RDP, accountant="")
    assert all("accountant" not in e.payload for e in old.entries if e.kind == Kind.CONFIG)
    ok, rules, epsilon = _verify(old)

    assert ok, rules
    assert epsilon == epsilon_spent([(Z_RDP, 1.0)], delta=DELTA, accountant="rdp")
    assert 7.99 < epsilon <= 8.0 and "accountant" not in _report(old).stats["privacy"]
    # the same noise under a config naming gdp: the exact, smaller figure
    assert _verify(_dpals_run(Z_RDP))[2] < 7.6


def test_noise_only_the_exact_curve_pays_for_fails_an_old_log() -> None:
    """Between the two calibrations: within 8 exactly, above 8 by RDP. Which one counts is
    the log's signed config entry, not the auditor's choice."""
    z = (Z_EXACT + Z_RDP) / 2
    assert _verify(_dpals_run(z))[0]
    ok, rules, _ = _verify(_dpals_run(z, accountant=""))
    assert not ok and "user_budget" in rules


@pytest.mark.parametrize("instance_level", [False, True])
def test_gdp_named_over_subsampled_rounds_is_a_finding_and_rdp_counts(
    instance_level: bool,
) -> None:
    sim = simulate_federation(
        rounds=3,
        instances=6,
        cooldown=1,
        noise_multiplier=1.0,
        sample_rate=0.2,
        user_clip_norm=None if instance_level else 0.1,
        epsilon_budget=8.0,
        accountant="gdp",
    )
    history = history_of(sim.entries)
    check = checks.check_budget if instance_level else checks.check_user_budget
    findings, epsilon = check(history)

    assert [f.rule for f in findings] == ["budget" if instance_level else "user_budget"]
    assert "gdp holds at sample rate 1 only" in findings[0].message
    assert epsilon == epsilon_spent([(1.0, 0.2)] * 3, delta=DELTA, accountant="rdp")
    assert not _verify(sim)[0]


def test_an_unknown_accountant_is_a_finding_and_rdp_counts() -> None:
    """Under RDP the exact calibration is over budget: named too."""
    sim = _dpals_run(Z_EXACT, accountant="clt")
    findings, epsilon = checks.check_user_budget(history_of(sim.entries))

    assert "unknown accountant 'clt'" in findings[0].message
    assert [f.rule for f in findings] == ["user_budget"] * 2
    assert "exceeds the budget 8" in findings[1].message
    assert epsilon == epsilon_spent([(Z_EXACT, 1.0)], delta=DELTA, accountant="rdp") > 8.0
