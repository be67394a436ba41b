"""The commands an admin runs: `mpcrec peertube grants|check`, `mpcrec serve`, the benchmark."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from mpcrec.cli.app import main
from mpcrec.data.peertube import PeerTubeReader
from mpcrec.data.peertube_grants import grant_sql
from mpcrec.data.peertube_mirror import write_instance
from tests.net import free_port
from tests.node.test_recommender import random_snapshot
from tests.postgres import Cluster, PeerTubeDatabase, synthetic_table

pytestmark = pytest.mark.timeout(120)


def test_grants_prints_the_column_grants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["peertube", "grants", "--role", "reader_x"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == ["\\set ON_ERROR_STOP on", "BEGIN;"] and lines[-1] == "COMMIT;"
    assert lines[3:-1] == grant_sql("reader_x")


def _grants_into_psql(cluster: Cluster, db: PeerTubeDatabase, role: str) -> int:
    """`mpcrec peertube grants --role ROLE | psql DB` as two real processes, as the docs say
    (without `-v ON_ERROR_STOP=1`: the script must stop at an error by itself)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    grants = subprocess.Popen(
        [sys.executable, "-m", "mpcrec.cli.app", "peertube", "grants", "--role", role],
        stdout=subprocess.PIPE,
        env=env,
    )
    psql = subprocess.run(
        [str(cluster.bindir / "psql"), "-X", "-q", db.admin_dsn],
        stdin=grants.stdout,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert grants.wait(60) == 0
    return psql.returncode


def _fresh_role(db: PeerTubeDatabase, name: str) -> str:
    with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw-{name}'")
        conn.execute(f'GRANT CONNECT ON DATABASE "{db.name}" TO {name}')
    return db.reader_dsn.replace("mpcrec_reader", name).replace(
        "password=mpcrec-test-reader", f"password=pw-{name}"
    )


def _privileges(db: PeerTubeDatabase, role: str) -> int:
    with psycopg.connect(db.admin_dsn) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM information_schema.column_privileges WHERE grantee = %s",
            (role,),
        ).fetchone()
    return int(row[0]) if row else 0


def test_grants_piped_into_psql_give_a_working_reader(
    pg_cluster: Cluster, peertube_db: PeerTubeDatabase
) -> None:
    # Prepare
    role = f"reader_ok_{os.getpid()}"
    dsn = _fresh_role(peertube_db, role)
    # Execute
    code = _grants_into_psql(pg_cluster, peertube_db, role)
    # Assert
    assert code == 0
    assert PeerTubeReader(dsn).check().migration_version is None  # empty, but readable


@pytest.mark.parametrize("broken", ["missing table", "missing role"])
def test_a_failed_grant_fails_the_pipeline_and_grants_nothing(
    pg_cluster: Cluster, peertube_db: PeerTubeDatabase, broken: str
) -> None:
    # Prepare: a PeerTube without the plugin table (the last grant fails), or no such role
    role = f"reader_ko_{broken.split()[1]}_{os.getpid()}"
    if broken == "missing table":
        _fresh_role(peertube_db, role)
        with psycopg.connect(peertube_db.admin_dsn, autocommit=True) as conn:
            conn.execute('DROP TABLE "plugin"')
    # Execute
    code = _grants_into_psql(pg_cluster, peertube_db, role)
    # Assert: psql's "script error" status, and the grants before the error rolled back
    assert code == 3
    assert _privileges(peertube_db, role) == 0


def test_check_with_a_config_file(
    peertube_db: PeerTubeDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        write_instance(conn, synthetic_table(n_users=6, n_items=30, per_user=5), host="t.example")
    config = tmp_path / "node.yaml"
    config.write_text(f'instance_id: t\npeertube:\n  dsn: "{peertube_db.reader_dsn}"\n')
    # Execute
    code = main(["peertube", "check", "--config", str(config), "--format", "json"])
    # Assert
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    assert summary["signals"] == {"watch": 30}
    assert summary["users_with_signals"] == 6 and summary["public_videos"] == 30
    assert "password" not in json.dumps(summary)


def test_check_errors_exit_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "node.yaml"
    config.write_text("peertube:\n  dsn: x\n  weights: {watch: -1}\n")
    assert main(["peertube", "check", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "weights must not be negative" in err and "Traceback" not in err
    dsn = f"host=127.0.0.1 port={free_port()} dbname=peertube user=x"
    assert main(["peertube", "check", "--dsn", dsn]) == 2
    assert "cannot connect to the PeerTube database x@127.0.0.1" in capsys.readouterr().err


SECRET = "serve-secret-" + "y" * 32
AUTH = {"Authorization": f"Bearer {SECRET}"}


def _wait_version(url: str, version: str, deadline: float) -> dict[str, object]:
    while time.monotonic() < deadline:
        try:
            body = httpx.get(f"{url}/healthz", timeout=2, headers=AUTH).json()
            if body.get("modelVersion") == version:
                return dict(body)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server never served {version}")


def test_serve_reloads_a_new_snapshot_and_stops_on_sigterm(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "model.npz"
    random_snapshot(version="round-1").save(path)
    secret = tmp_path / "api.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    port = free_port()
    cmd = [sys.executable, "-m", "mpcrec.cli.app", "serve", "--snapshot", str(path)]
    cmd += ["--secret-file", str(secret)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    server = subprocess.Popen(
        [*cmd, "--port", str(port), "--watch-seconds", "0.2"], env=env, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Execute
        first = _wait_version(url, "round-1", time.monotonic() + 60)
        random_snapshot(seed=2, version="round-2").save(path)
        second = _wait_version(url, "round-2", time.monotonic() + 30)
        route = f"{url}/api/v1/recommendations/videos"
        answer = httpx.get(f"{route}?userId=3&count=4", headers=AUTH).json()
        refused = [httpx.get(f"{route}?userId={u}") for u in (3, 4242)]
        server.send_signal(signal.SIGTERM)
        code = server.wait(20)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
    # Assert
    assert first["status"] == second["status"] == "ok"
    assert answer["modelVersion"] == "round-2" and answer["total"] == 4
    assert [r.status_code for r in refused] == [401, 401]
    assert refused[0].content == refused[1].content
    assert code == 0


def test_serve_refuses_a_secret_file_others_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.npz"
    random_snapshot().save(path)
    secret = tmp_path / "api.secret"
    secret.write_text(SECRET)
    secret.chmod(0o644)
    code = main(["serve", "--snapshot", str(path), "--secret-file", str(secret), "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "open to other users" in err and "Traceback" not in err


def test_bench_recommend_writes_its_json(tmp_path: Path) -> None:
    out = tmp_path / "recommend.json"
    code = main(
        ["bench", "recommend", "--items", "3000", "--dim", "8", "--users", "20", "--seen", "5",
         "--requests", "40", "--warmup", "5", "--out", str(out),
         "--baseline", str(Path(__file__).parents[2])]
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert code == 0
    assert result["items"] == 3000 and result["requests"] == 40
    for path in ("in_process", "http", "related_in_process", "related_http", "baseline_http",
                 "baseline_related_http"):  # fmt: skip
        stats = result[path]
        assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"] <= stats["max_ms"]
