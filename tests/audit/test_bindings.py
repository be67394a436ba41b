"""Rule ``binding``: every registered key is bound to a certificate of the federation CA."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mpcrec.audit.entries import Kind
from mpcrec.audit.schema import payload_error
from mpcrec.cli.app import main
from mpcrec.crypto.pki import create_ca

from .real_log import run_federation


@pytest.fixture(scope="module")
def bound_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real launcher's exported log in which every instance registered bound, and the CA."""
    root = tmp_path_factory.mktemp("bound")
    create_ca(root / "ca")
    run_federation(root / "state", rounds=2, instances=8, abort_every=0, ca=root / "ca")
    return root / "state" / "audit.jsonl", root / "ca" / "ca.pem"


def _verify(log: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", str(log), "--workers", "1", *extra])
    return code, capsys.readouterr().out


def test_a_log_of_bound_registrations_verifies_with_the_ca(
    bound_log: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    log, ca = bound_log
    code, out = _verify(log, "--ca", str(ca), capsys=capsys)
    assert code == 0, out
    assert "binding" in out and "not checked" not in out


def test_without_the_ca_the_rule_is_reported_not_checked(
    bound_log: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _verify(bound_log[0], capsys=capsys)
    assert code == 0
    assert "not checked (no --ca)" in out


def test_registrations_under_another_ca_are_findings(
    bound_log: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare: the launcher operator's own CA, not the federation's
    rogue = create_ca(tmp_path / "rogue")

    # Execute
    code, out = _verify(bound_log[0], "--ca", str(rogue.cert), "--format", "json", capsys=capsys)

    # Assert: one finding per instance, each naming the rule and its registration entry
    assert code == 1
    assert out.count('"rule": "binding"') == 8
    assert "not signed by the federation CA" in out


def test_unbound_registrations_are_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare: a real launcher's log whose instances registered without bindings
    run_federation(tmp_path / "state", rounds=1, instances=8, abort_every=0, reject_every=0)
    ca = create_ca(tmp_path / "ca")

    # Execute
    code, out = _verify(tmp_path / "state" / "audit.jsonl", "--ca", str(ca.cert), capsys=capsys)

    # Assert
    assert code == 1
    assert out.count("keys are not bound: inst-") == 8
    assert "no certificate for its" in out


def test_a_binding_over_other_keys_is_a_finding(bound_log: tuple[Path, Path]) -> None:
    # Prepare: a registration whose sealing key was swapped after binding (re-signed entry
    # aside, the rule looks at the keys the log registers)
    from mpcrec.audit.checks import check_bindings
    from mpcrec.audit.history import replay
    from mpcrec.audit.verify import parse_lines

    log, ca = bound_log
    parsed, _, _ = parse_lines(log.read_bytes().splitlines())
    index = next(i for i, e in enumerate(parsed) if e.kind == Kind.REGISTER)
    entry = parsed[index]
    parsed[index] = replace(entry, payload={**entry.payload, "sealing_key": "ab" * 32})

    # Execute
    history, _ = replay(parsed)
    findings = check_bindings(history, ca.read_bytes())

    # Assert
    assert [(f.rule, f.index) for f in findings] == [("binding", entry.index)]
    assert "does not sign these keys" in findings[0].message


def test_a_registration_carries_both_binding_fields_or_neither(
    bound_log: tuple[Path, Path],
) -> None:
    from mpcrec.audit.verify import parse_lines

    parsed, _, _ = parse_lines(bound_log[0].read_bytes().splitlines())
    entry = next(e for e in parsed if e.kind == Kind.REGISTER)
    assert payload_error(entry) is None
    half = {k: v for k, v in entry.payload.items() if k != "key_binding"}
    assert "missing ['key_binding']" in str(payload_error(replace(entry, payload=half)))
    odd = {**entry.payload, "certificate": "abc"}
    assert "malformed" in str(payload_error(replace(entry, payload=odd)))
