"""Timed tree heads, logs from before heads had a time, inclusion by signature, and the
auditor's ``heads`` and ``head_time`` rules over nodes' cosigned heads."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpcrec.audit import merkle
from mpcrec.audit.entries import LAUNCHER, TreeHead
from mpcrec.audit.log import AuditLog
from mpcrec.audit.simulate import FederationLog
from mpcrec.audit.tree_heads import EVIDENCE_FILE
from mpcrec.audit.verify import verify_file
from mpcrec.audit.witness import WITNESS_FILE, WitnessedHead

from .test_log import fill


def _witness(sim: FederationLog, who: str, head: TreeHead, key: Ed25519PrivateKey | None = None):
    return WitnessedHead(who, head).sign(key or sim.instance_keys[who])


def test_a_timed_head_signs_its_time_and_an_old_untimed_head_still_verifies() -> None:
    # Prepare
    key = Ed25519PrivateKey.generate()
    root = merkle.leaf_hash(b"entry")

    # Execute
    timed = TreeHead(1, root, timestamp=1234).sign(key)
    untimed = TreeHead(1, root).sign(key)

    # Assert
    assert timed.verify(key.public_key()) and untimed.verify(key.public_key())
    assert not replace(timed, timestamp=1235).verify(key.public_key())
    assert not replace(timed, timestamp=None).verify(key.public_key())  # v2 is not v1
    assert TreeHead.from_json(timed.to_json()) == timed
    assert "timestamp" not in untimed.to_json()["head"]


def test_a_log_written_before_heads_had_a_time_is_read_and_continues_timed(
    tmp_path: Path, simulated_log: FederationLog
) -> None:
    # Prepare: a database in the old schema (no timestamp column), one untimed head
    path = tmp_path / "old.sqlite"
    key = simulated_log.launcher_key
    log = AuditLog(path, launcher_key=key)
    fill(log, simulated_log, upto=30)
    log.close()
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE audit_heads; CREATE TABLE audit_heads (size INTEGER PRIMARY KEY, "
        "root BLOB NOT NULL, sig BLOB NOT NULL);"
    )
    old = TreeHead(30, AuditLog(db, launcher_key=None).root(30)).sign(key)
    db.execute("INSERT INTO audit_heads VALUES (?, ?, ?)", (old.size, old.root, old.signature))
    db.commit()
    db.close()

    # Execute
    reopened = AuditLog(path, launcher_key=key)
    for entry in simulated_log.entries[30:40]:
        author_signed = entry.author != LAUNCHER
        reopened.append(
            replace(entry, index=-1, signature=entry.signature if author_signed else b"")
        )
    new = reopened.sign_head(now=1_800_000_000.5)
    heads = reopened.heads()

    # Assert
    assert heads == [old, new]
    assert old.timestamp is None and new.timestamp == 1_800_000_000_500
    assert all(h.verify(key.public_key()) for h in heads)


def test_the_log_finds_an_entry_by_its_signature(
    tmp_path: Path, simulated_log: FederationLog
) -> None:
    log = AuditLog(tmp_path / "log.sqlite", launcher_key=simulated_log.launcher_key)
    fill(log, simulated_log, upto=40)
    head = log.sign_head()
    entry = simulated_log.entries[17]

    index = log.index_of(entry.signature)

    assert index == 17
    leaf = merkle.leaf_hash(entry.leaf_bytes())
    path = log.inclusion_proof(index, head.size)
    assert merkle.verify_inclusion(index=17, size=40, leaf=leaf, proof=path, root=head.root)
    assert log.index_of(b"\x00" * 64) is None


@pytest.fixture
def exported(tmp_path: Path, simulated_log: FederationLog) -> Path:
    out = tmp_path / "log.jsonl"
    simulated_log.write(out)
    return out


def _node_dir(tmp_path: Path, name: str, witnessed: WitnessedHead) -> Path:
    directory = tmp_path / "nodes" / name
    directory.mkdir(parents=True)
    (directory / WITNESS_FILE).write_bytes(witnessed.to_bytes())
    return directory


def test_require_heads_counts_distinct_cosigning_nodes(
    tmp_path: Path, exported: Path, simulated_log: FederationLog
) -> None:
    # Prepare: inst-00 and inst-01 cosigned real heads; inst-02's file is cosigned by inst-03
    heads = simulated_log.heads
    _node_dir(tmp_path, "a", _witness(simulated_log, "inst-00", heads[-1]))
    _node_dir(tmp_path, "b", _witness(simulated_log, "inst-01", heads[3]))
    forged = _witness(simulated_log, "inst-02", heads[-1], simulated_log.instance_keys["inst-03"])
    _node_dir(tmp_path, "c", forged)
    again = _node_dir(tmp_path, "a-again", _witness(simulated_log, "inst-00", heads[2]))

    # Execute
    two = verify_file(exported, heads_paths=[tmp_path / "nodes"], require_heads=2, workers=1)
    three = verify_file(exported, heads_paths=[tmp_path / "nodes"], require_heads=3, workers=1)
    alone = verify_file(exported, heads_paths=[again], require_heads=1, workers=1)
    none = verify_file(exported, require_heads=1, workers=1)

    # Assert
    assert [f.message for f in two.findings] == [
        f"{tmp_path / 'nodes' / 'c' / WITNESS_FILE} line 1: not cosigned by inst-02's key"
    ]
    assert two.stats["witnesses"] == 3
    assert {f.rule for f in three.findings} == {"heads"}
    assert "heads from 2 distinct nodes match the log; 3 required" in three.findings[-1].message
    assert alone.ok
    assert [f.rule for f in none.findings] == ["heads"]


def test_a_cosigned_head_of_another_history_is_a_fork_and_does_not_count(
    tmp_path: Path, exported: Path, simulated_log: FederationLog
) -> None:
    # Prepare: the launcher signed inst-01 a head over a history without entry 20
    other = FederationLog(simulated_log.launcher_key, simulated_log.instance_keys)
    for entry in simulated_log.entries[:20] + simulated_log.entries[21:40]:
        other.place(entry)
    before = [h.timestamp for h in simulated_log.heads if h.size <= 39]
    forked = other.sign_head(max(t for t in before if t is not None))
    _node_dir(tmp_path, "a", _witness(simulated_log, "inst-00", simulated_log.heads[-1]))
    _node_dir(tmp_path, "b", _witness(simulated_log, "inst-01", forked))

    # Execute
    report = verify_file(exported, heads_paths=[tmp_path / "nodes"], require_heads=2, workers=1)

    # Assert
    assert {f.rule for f in report.findings} == {"fork", "heads"}
    fork = next(f for f in report.findings if f.rule == "fork")
    assert fork.index == 38 and "nodes/b" in fork.message


def test_head_times_must_grow_and_the_latest_be_recent(
    exported: Path, simulated_log: FederationLog
) -> None:
    last = simulated_log.heads[-1]
    assert last.timestamp is not None

    fresh = verify_file(exported, max_head_age_s=3600, workers=1)
    assert [f.rule for f in fresh.findings] == ["head_time"]  # 2026-01-01 is long ago
    assert "the largest head is" in fresh.findings[0].message

    sim = FederationLog(simulated_log.launcher_key, simulated_log.instance_keys)
    for entry in simulated_log.entries[:10]:
        sim.place(entry)
    sim.sign_head(5_000)
    for entry in simulated_log.entries[10:20]:
        sim.place(entry)
    sim.sign_head(4_000)  # a bigger head signed "earlier"
    from mpcrec.audit.checks import check_head_times

    findings = check_head_times([("x", h) for h in sim.heads])
    assert [f.rule for f in findings] == ["head_time"]


def test_a_re_ordered_history_a_node_kept_as_evidence_is_named_a_fork(
    tmp_path: Path, exported: Path, simulated_log: FederationLog
) -> None:
    # Prepare: a node saw a real head, then refused one over the history with entries 5 and
    # 6 swapped; it kept both in its state dir as the daemon does (LauncherTrust)
    from mpcrec.node.launcher_trust import LauncherTrust  # the node's own writer

    entries = simulated_log.entries[:40]
    other = FederationLog(simulated_log.launcher_key, simulated_log.instance_keys)
    for entry in [*entries[:5], entries[6], entries[5], *entries[7:]]:
        other.place(entry)
    before = [h.timestamp for h in simulated_log.heads if h.size <= len(entries) - 1]
    swapped = other.sign_head(max(t for t in before if t is not None))
    seen = next(h for h in simulated_log.heads if 6 < h.size < swapped.size)
    node = tmp_path / "nodes" / "a"
    LauncherTrust(node).keep_evidence("launcher", seen, swapped)

    # Execute: the state dir, and the evidence file alone
    by_dir = verify_file(exported, heads_paths=[tmp_path / "nodes"], workers=1)
    by_file = verify_file(exported, heads_paths=[node / EVIDENCE_FILE], workers=1)

    # Assert: the refused head is a fork, the one the node kept as its own matches
    for report in (by_dir, by_file):
        assert [f.rule for f in report.findings] == ["fork"], report.findings
        assert "theirs line 1" in report.findings[0].message
        assert f"size {swapped.size}" in report.findings[0].message
