"""A throwaway PostgreSQL cluster for the PeerTube tests: one per xdist worker.

The cluster lives in a fresh temporary directory, listens on 127.0.0.1 on a free port (its
unix socket inside the same directory), and is stopped and removed at the end of the
session. PostgreSQL refuses to run as root, so when the tests run as root the server runs
as the ``postgres`` system user. Nothing is skipped: without the server binaries the
session fails with the command that installs them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import pytest

from mpcrec.data.interactions import Interactions, ItemMeta
from mpcrec.data.peertube_grants import grant_sql
from mpcrec.data.peertube_mirror import create_schema
from tests.net import free_port

SUPERUSER_PASSWORD = "mpcrec-test-superuser"
READER_ROLE = "mpcrec_reader"
READER_PASSWORD = "mpcrec-test-reader"


@dataclass(frozen=True)
class Cluster:
    """A running test cluster: where it is and how to reach it."""

    bindir: Path
    datadir: Path
    port: int

    def dsn(self, dbname: str, *, user: str = "postgres", password: str = "") -> str:
        """Return a libpq connection string for ``dbname`` on this cluster."""
        secret = password or SUPERUSER_PASSWORD
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user} password={secret}"


def _server_bindir() -> Path:
    """The newest PostgreSQL server bin directory, or fail with how to install one."""
    override = os.environ.get("MPCREC_PG_BIN")
    candidates = [override] if override else sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    for path in reversed(candidates):
        if path and (Path(path) / "initdb").exists():
            return Path(path)
    pytest.fail(
        "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and "
        "$MPCREC_PG_BIN): run `make postgres` to install Debian's `postgresql` package",
        pytrace=False,
    )


def _as_server_user(cmd: list[str]) -> list[str]:
    """Run ``cmd`` as ``postgres`` when we are root (initdb refuses to run as root)."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """Start a fresh PostgreSQL cluster for this test process; stop and remove it after."""
    bindir = _server_bindir()
    root = Path(tempfile.mkdtemp(prefix="mpcrec-pg-"))
    datadir = root / "data"
    pwfile = root / "pwfile"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    if os.geteuid() == 0:
        server = pwd.getpwnam("postgres")
        os.chown(root, server.pw_uid, server.pw_gid)
        os.chown(pwfile, server.pw_uid, server.pw_gid)
    port = free_port()
    started = False
    try:
        _run(
            _as_server_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(datadir),
                    "-U",
                    "postgres",
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            )
        )
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=40"
        )
        _run(
            _as_server_user(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(datadir),
                    "-o",
                    options,
                    "-l",
                    str(root / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
        )
        started = True
        yield Cluster(bindir=bindir, datadir=datadir, port=port)
    finally:
        if started:
            subprocess.run(
                _as_server_user(
                    [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


_DB_COUNTER = iter(range(1_000_000))


@dataclass(frozen=True)
class PeerTubeDatabase:
    """A fresh database with PeerTube's tables, and DSNs for its owner and a reader."""

    name: str
    admin_dsn: str
    reader_dsn: str


@pytest.fixture
def peertube_db(pg_cluster: Cluster) -> Iterator[PeerTubeDatabase]:
    """A new database with PeerTube's tables and a role that may SELECT only what mpcrec reads."""
    name = f"peertube_{os.getpid()}_{next(_DB_COUNTER)}"
    with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,))
        if exists.fetchone() is None:
            conn.execute(
                f"CREATE ROLE {READER_ROLE} LOGIN PASSWORD '{READER_PASSWORD}' "
                "NOSUPERUSER NOCREATEDB NOCREATEROLE"
            )
    admin_dsn = pg_cluster.dsn(name)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        create_schema(conn)
        conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        conn.execute(f'REVOKE ALL ON DATABASE "{name}" FROM PUBLIC')
        conn.execute(f'GRANT CONNECT ON DATABASE "{name}" TO {READER_ROLE}')
        for statement in grant_sql(READER_ROLE):
            conn.execute(statement.encode())
    reader_dsn = pg_cluster.dsn(name, user=READER_ROLE, password=READER_PASSWORD)
    try:
        yield PeerTubeDatabase(name=name, admin_dsn=admin_dsn, reader_dsn=reader_dsn)
    finally:
        with psycopg.connect(pg_cluster.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def synthetic_table(
    n_users: int = 40, n_items: int = 90, per_user: int = 12, seed: int = 0
) -> Interactions:
    """A small random interaction table with item metadata (titles, tags, years)."""
    rng = np.random.default_rng(seed)
    users: list[str] = []
    items: list[str] = []
    times: list[float] = []
    for u in range(1, n_users + 1):
        for i in rng.choice(n_items, size=per_user, replace=False):
            users.append(str(u))
            items.append(str(int(i) + 1))
            times.append(1_600_000_000.0 + float(rng.integers(0, 10_000_000)))
    genres = ("Action", "Comedy", "Drama", "Horror", "Documentary")
    meta = {
        str(i): ItemMeta(
            title=f"Video number {i}",
            tags=tuple(sorted({genres[i % 5], genres[(i * 7) % 5]})),
            published=1990.0 + i % 30,
        )
        for i in range(1, n_items + 1)
    }
    return Interactions.from_columns(users, items, times, catalogue=list(meta), item_meta=meta)
