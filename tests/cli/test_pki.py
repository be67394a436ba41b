"""`mpcrec pki`: a certificate issued from a signing request, the instance's key kept home."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mpcrec.cli.app import main
from mpcrec.crypto.chain import check_instance_certificate
from mpcrec.crypto.pki import load_certificate


def test_csr_then_issue_from_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Prepare: the CA holder's directory and the instance's, apart
    ca, home, issued = tmp_path / "ca", tmp_path / "instance", tmp_path / "issued"
    assert main(["pki", "ca", str(ca)]) == 0

    # Execute
    assert main(["pki", "csr", "--out", str(home), "--id", "tube-a", "--host", "10.0.0.1"]) == 0
    request = str(home / "tube-a.csr")
    code = main(["pki", "issue", "--ca", str(ca), "--csr", request, "--out", str(issued)])

    # Assert: a certificate of the CA for the instance's own key, no key on the CA's side
    assert code == 0
    cert = (issued / "tube-a.pem").read_bytes()
    now = dt.datetime.now(dt.UTC)
    key = check_instance_certificate(
        cert, (ca / "ca.pem").read_bytes(), instance_id="tube-a", at=now
    )
    assert key == load_certificate(cert).public_key()
    assert sorted(p.name for p in issued.iterdir()) == ["tube-a.pem"]
    assert "hosts 10.0.0.1" in capsys.readouterr().out


def test_issue_with_a_csr_refuses_names_given_beside_it(tmp_path: Path) -> None:
    assert main(["pki", "ca", str(tmp_path / "ca")]) == 0
    assert main(["pki", "csr", "--out", str(tmp_path), "--id", "tube-a"]) == 0
    argv = ["pki", "issue", "--ca", str(tmp_path / "ca"), "--out", str(tmp_path / "o")]
    assert main([*argv, "--csr", str(tmp_path / "tube-a.csr"), "--id", "tube-b"]) == 2
    assert main(argv) == 2  # neither --csr nor --id
