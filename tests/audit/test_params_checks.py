"""The ``params``, ``weights`` and per-reveal ``budget`` rules, each over a log with one
statement changed (the real launcher's log and the simulated one)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mpcrec.audit import checks
from mpcrec.audit.entries import Kind, LogEntry
from mpcrec.audit.simulate import FederationLog, simulate_federation
from mpcrec.privacy.budget import epsilon_spent
from tests.audit.test_checks import edited, history_of, results_changed, with_payload


def _published_round(federation: FederationLog) -> int:
    return next(e.round for e in federation.entries if e.kind == Kind.PUBLISH and e.round)


def _result_change(**fields: Any) -> Any:
    def change(entry: LogEntry) -> LogEntry:
        result = {**entry.payload["result"], **fields}
        return replace(entry, payload={"result": result})

    return change


def test_the_honest_logs_keep_both_rules(federation: FederationLog) -> None:
    history = history_of(federation.entries)

    assert checks.check_params(history) == []
    assert checks.check_weights(history) == []


def test_a_contribution_under_other_round_parameters_is_named(federation: FederationLog) -> None:
    r = _published_round(federation)
    log = edited(federation, Kind.CONTRIBUTION, r, with_payload(params_hash="00" * 32))

    found = checks.check_params(history_of(log))

    assert [f.rule for f in found] == ["params"]
    assert "contributed under other round parameters" in found[0].message


def test_a_result_under_other_round_parameters_is_named(federation: FederationLog) -> None:
    r = _published_round(federation)
    log = edited(federation, Kind.RESULT_SIGNATURE, r, _result_change(params_hash="11" * 32))

    found = checks.check_params(history_of(log))

    assert [f.rule for f in found] == ["params"]
    assert "signed a result under other round parameters" in found[0].message


def test_a_config_whose_digest_is_not_its_parameters_is_named(federation: FederationLog) -> None:
    config = next(e for e in federation.entries if e.kind == Kind.CONFIG)
    params = {**config.payload["params"], "aggregation": "plaintext"}  # the digest stays
    log = edited(federation, Kind.CONFIG, config.round or 0, with_payload(params=params))

    found = checks.check_params(history_of(log))

    assert found and {f.rule for f in found} == {"params"}
    assert found[0].index == config.index


def test_a_member_weighting_a_contribution_otherwise_than_its_author_is_named(
    federation: FederationLog,
) -> None:
    r = _published_round(federation)
    signature = next(
        e for e in federation.entries if e.kind == Kind.RESULT_SIGNATURE and e.round == r
    )

    def skew(result: dict[str, Any]) -> dict[str, Any]:
        victim = sorted(result["weights"])[0]
        weights = {i: (1e12 if i == victim else 1e-9) for i in result["weights"]}
        return {**result, "weights": weights}

    log = results_changed(list(federation.entries), r, skew, first=True)

    found = checks.check_weights(history_of(log))

    assert found and {f.rule for f in found} == {"weights"}
    assert all(f.index == signature.index for f in found)


def test_a_round_aborted_after_members_revealed_counts_in_epsilon() -> None:
    """Drop the victim, abort after the reveal, rerun: the aborted round spent ε too."""
    sim = simulate_federation(
        rounds=2, instances=12, noise_multiplier=2.0, sample_rate=1.0, epsilon_budget=None
    )
    published = [e for e in sim.entries if e.kind == Kind.PUBLISH]
    second = published[-1]
    aborted = [
        LogEntry(Kind.ABORT, e.round, e.author, {"reason": "launcher aborted", "missing": []})
        if e is second
        else e
        for e in sim.entries
    ]

    findings, epsilon = checks.check_budget(history_of(aborted))

    assert epsilon == epsilon_spent([(2.0, 1.0)] * 2, delta=1e-5)
    assert findings == []
