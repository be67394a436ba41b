"""AuditLog over SQLite, node-side tree heads, and `mpcrec audit export` / `verify`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mpcrec.audit import merkle
from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry, TreeHead
from mpcrec.audit.log import DATABASE_NAME, AuditLog, ForkDetected, TreeHeadStore
from mpcrec.audit.simulate import FederationLog
from mpcrec.errors import ProtocolError


def fill(log: AuditLog, sim: FederationLog, upto: int | None = None) -> None:
    """Append the simulation's entries as the launcher would receive them; heads as it did."""
    head_times = {h.size: h.timestamp for h in sim.heads}
    for entry in sim.entries[:upto]:
        unsigned = replace(entry, index=-1)
        log.append(replace(unsigned, signature=b"") if entry.author == LAUNCHER else unsigned)
        if log.size in head_times:
            stamp = head_times[log.size]
            log.sign_head(now=None if stamp is None else stamp / 1000)


def test_log_reproduces_the_simulated_federation(tmp_path: Path, federation: FederationLog) -> None:
    log = AuditLog(tmp_path / DATABASE_NAME, launcher_key=federation.launcher_key)
    fill(log, federation)
    assert log.size == len(federation.entries)
    assert log.heads() == federation.heads
    out = tmp_path / "log.jsonl"
    assert log.export_jsonl(out) == len(federation.lines())
    # Ed25519 is deterministic: the same entries signed by the same keys give the same bytes
    assert out.read_bytes().splitlines() == federation.lines()
    log.close()


def test_log_survives_reopening_and_proves(tmp_path: Path, federation: FederationLog) -> None:
    path = tmp_path / DATABASE_NAME
    log = AuditLog(path, launcher_key=federation.launcher_key)
    fill(log, federation, upto=60)
    first = log.sign_head()
    log.close()
    log = AuditLog(path, launcher_key=federation.launcher_key)
    assert log.size == 60 and log.root() == first.root
    fill_rest = federation.entries[60:]
    for entry in fill_rest:
        log.append(
            replace(entry, index=-1, signature=b"" if entry.author == LAUNCHER else entry.signature)
        )
    second = log.sign_head()
    for index in (0, 17, 59):
        leaf = merkle.leaf_hash(next(log.entries(index, index + 1)).leaf_bytes())
        assert merkle.verify_inclusion(
            index=index,
            size=second.size,
            leaf=leaf,
            proof=log.inclusion_proof(index),
            root=second.root,
        )
    assert merkle.verify_consistency(
        old_size=first.size,
        new_size=second.size,
        old_root=first.root,
        new_root=second.root,
        proof=log.consistency_proof(first.size),
    )
    log.close()


def test_log_is_append_only_and_checks_signatures(
    tmp_path: Path, federation: FederationLog
) -> None:
    log = AuditLog(tmp_path / DATABASE_NAME, launcher_key=federation.launcher_key)
    fill(log, federation, upto=10)
    db = sqlite3.connect(tmp_path / DATABASE_NAME)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE audit_entries SET body = x'00' WHERE idx = 3")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM audit_entries WHERE idx = 3")
    db.close()
    contribution = next(e for e in federation.entries if e.kind == Kind.CONTRIBUTION)
    forged = replace(contribution, index=-1).sign(federation.instance_keys["inst-07"])
    if contribution.author != "inst-07":
        with pytest.raises(ProtocolError, match="bad signature"):
            log.append(forged)
    stranger = replace(contribution, index=-1, author="nobody").sign(federation.launcher_key)
    with pytest.raises(ProtocolError, match="not registered"):
        log.append(stranger)
    assert log.size == 10
    log.close()


def test_tree_head_store_detects_a_fork(federation: FederationLog) -> None:
    leaves = [merkle.leaf_hash(e.leaf_bytes()) for e in federation.entries]
    key = federation.launcher_key
    store = TreeHeadStore(key.public_key())
    small = TreeHead(20, merkle.root(leaves[:20])).sign(key)
    big = TreeHead(50, merkle.root(leaves[:50])).sign(key)
    store.observe(small)
    store.observe(big, merkle.consistency_proof(leaves[:50], 20))
    assert store.latest == big
    forked_leaves = [*leaves[:10], merkle.leaf_hash(b"another history"), *leaves[11:]]
    forked = TreeHead(60, merkle.root(forked_leaves[:60])).sign(key)
    with pytest.raises(ForkDetected, match="not consistent"):
        store.observe(forked, merkle.consistency_proof(forked_leaves[:60], 50))
    with pytest.raises(ProtocolError, match="bad launcher signature"):
        store.observe(
            TreeHead(70, merkle.root(leaves[:70])).sign(federation.instance_keys["inst-00"])
        )


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpcrec.cli.app", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.timeout(240)
def test_cli_export_then_verify(tmp_path: Path, simulated_log: FederationLog) -> None:
    federation = simulated_log
    log = AuditLog(tmp_path / DATABASE_NAME, launcher_key=federation.launcher_key)
    fill(log, federation)
    log.close()
    out = tmp_path / "audit.jsonl"
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(federation.key_file()))
    exported = run_cli("audit", "export", "--state-dir", str(tmp_path), "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    ok = run_cli("audit", "verify", str(out), "--keys", str(keys), "--format", "json")
    assert ok.returncode == 0, ok.stdout
    assert json.loads(ok.stdout)["ok"] is True
    lines = out.read_bytes().splitlines()
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"\n".join([*lines[:5], *lines[6:]]) + b"\n")
    bad = run_cli("audit", "verify", str(tampered), "--keys", str(keys))
    assert bad.returncode == 1
    assert "FAILED" in bad.stdout and "sequence" in bad.stdout
    missing = run_cli("audit", "export", "--state-dir", str(tmp_path / "nope"), "--out", str(out))
    assert missing.returncode == 2
    assert "no launcher database" in missing.stderr and "Traceback" not in missing.stderr
    unwired = tmp_path / "unwired"
    unwired.mkdir()
    sqlite3.connect(unwired / DATABASE_NAME).execute("CREATE TABLE round (x)").connection.close()
    plain = run_cli("audit", "export", "--state-dir", str(unwired), "--out", str(out))
    assert plain.returncode == 2
    assert "holds no audit log" in plain.stderr
    tables = sqlite3.connect(unwired / DATABASE_NAME).execute("SELECT name FROM sqlite_master")
    assert [t for (t,) in tables] == ["round"]  # export never writes to the launcher's database


def test_tree_head_store_persists_across_restarts(
    tmp_path: Path, federation: FederationLog
) -> None:
    leaves = [merkle.leaf_hash(e.leaf_bytes()) for e in federation.entries]
    key = federation.launcher_key
    path = tmp_path / "heads.jsonl"
    store = TreeHeadStore(key.public_key(), path)
    store.observe(TreeHead(30, merkle.root(leaves[:30])).sign(key))
    restarted = TreeHeadStore(key.public_key(), path)
    assert restarted.latest == store.latest
    forked = [*leaves[:5], merkle.leaf_hash(b"rewritten"), *leaves[6:]]
    with pytest.raises(ForkDetected):
        restarted.observe(
            TreeHead(40, merkle.root(forked[:40])).sign(key),
            merkle.consistency_proof(forked[:40], 30),
        )


def test_log_refuses_malformed_payloads(tmp_path: Path, federation: FederationLog) -> None:
    log = AuditLog(tmp_path / DATABASE_NAME, launcher_key=federation.launcher_key)
    fill(log, federation, upto=20)
    bad = LogEntry(Kind.ROUND_OPEN, 1, LAUNCHER, {"model_version": -1, "participants": []})
    with pytest.raises(ProtocolError, match="model_version"):
        log.append(bad)
    assert log.size == 20
    log.close()


def test_tree_head_store_appends_each_new_head_once_and_drops_a_torn_last_line(
    tmp_path: Path, federation: FederationLog
) -> None:
    # Prepare
    leaves = [merkle.leaf_hash(e.leaf_bytes()) for e in federation.entries]
    key = federation.launcher_key
    path = tmp_path / "heads.jsonl"
    store = TreeHeadStore(key.public_key(), path)
    small = TreeHead(20, merkle.root(leaves[:20])).sign(key)
    big = TreeHead(50, merkle.root(leaves[:50])).sign(key)

    # Execute: a head seen twice, a bigger one, then a crash in the middle of an append
    store.observe(small)
    store.observe(small)
    store.observe(big, merkle.consistency_proof(leaves[:50], 20))
    kept = path.read_bytes()
    with path.open("ab") as out:
        out.write(kept.splitlines()[-1][:40])
    restarted = TreeHeadStore(key.public_key(), path)

    # Assert
    assert len(kept.splitlines()) == 2  # one line per new head, not a rewrite of them all
    assert restarted.latest == big
    assert path.read_bytes() == kept  # the torn line is cut off, the file appendable again


def test_the_latest_head_is_the_largest_signed_one(
    tmp_path: Path, federation: FederationLog
) -> None:
    # Prepare
    log = AuditLog(tmp_path / DATABASE_NAME, launcher_key=federation.launcher_key)
    empty = log.latest_head()
    fill(log, federation)  # signs heads where the simulation did

    # Execute
    latest = log.latest_head()

    # Assert
    assert empty is None
    assert latest is not None and latest == log.heads()[-1]
    assert latest.size == max(h.size for h in federation.heads)
    assert len(log.heads()) >= 2
    log.close()
