"""The schema check: clear errors for a missing table, column or privilege, or a bad DSN."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from mpcrec.data.peertube import PeerTubeReader, describe_dsn
from mpcrec.data.peertube_grants import REQUIRED_COLUMNS
from mpcrec.data.peertube_mirror import MIGRATION_VERSION, write_instance
from mpcrec.errors import ConfigError, DataError
from tests.postgres import (
    READER_PASSWORD,
    READER_ROLE,
    PeerTubeDatabase,
    _server_bindir,
    synthetic_table,
)

pytestmark = pytest.mark.timeout(120)


def _admin(db: PeerTubeDatabase, statement: str) -> None:
    with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
        conn.execute(statement.encode())


def test_check_reports_migration_and_row_counts(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    table = synthetic_table(n_users=5, n_items=20, per_user=4)
    with psycopg.connect(peertube_db.admin_dsn) as conn:
        write_instance(conn, table, host="tube.example")
    # Execute
    report = PeerTubeReader(peertube_db.reader_dsn).check()
    # Assert
    assert report.migration_version == MIGRATION_VERSION
    assert report.rows["userVideoHistory"] == 20
    assert report.rows["video"] == 20


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ('DROP TABLE "videoPlaylistElement"', 'table "videoPlaylistElement"'),
        ('ALTER TABLE "accountVideoRate" DROP COLUMN "type"', 'column "accountVideoRate"."type"'),
        ('ALTER TABLE "video" RENAME COLUMN "url" TO "link"', 'column "video"."url"'),
    ],
)
def test_missing_table_or_column_is_named_with_supported_versions(
    peertube_db: PeerTubeDatabase, statement: str, named: str
) -> None:
    # Prepare
    _admin(peertube_db, statement)
    # Execute
    with pytest.raises(DataError) as caught:
        PeerTubeReader(peertube_db.reader_dsn).check()
    # Assert
    assert named in caught.value.message
    assert caught.value.hint is not None and "PeerTube 1.3" in caught.value.hint


def test_unreadable_column_is_named_with_the_fix(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    _admin(peertube_db, f'REVOKE SELECT ("videoId") ON "userVideoHistory" FROM {READER_ROLE}')
    # Execute
    with pytest.raises(DataError) as caught:
        PeerTubeReader(peertube_db.reader_dsn).check()
    # Assert
    assert '"userVideoHistory"."videoId"' in caught.value.message
    assert caught.value.hint is not None and "mpcrec peertube grants" in caught.value.hint


def test_reader_role_sees_nothing_beyond_the_granted_columns(peertube_db: PeerTubeDatabase) -> None:
    # Prepare
    granted = {(t, c) for t, cols in REQUIRED_COLUMNS.items() for c in cols}
    # Execute / Assert: the role can read what is granted, not e-mails, and cannot write
    with psycopg.connect(peertube_db.reader_dsn, autocommit=True) as conn:
        conn.execute('SELECT "userId" FROM "account"')
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute('SELECT "email" FROM "user"')
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute('DELETE FROM "userVideoHistory"')
    assert ("user", "email") not in granted


def test_wrong_password_is_a_clear_error_without_the_password(
    peertube_db: PeerTubeDatabase,
) -> None:
    # Prepare
    dsn = peertube_db.reader_dsn.replace(READER_PASSWORD, "not-the-password")
    # Execute
    with pytest.raises(DataError) as caught:
        PeerTubeReader(dsn).check()
    # Assert
    text = str(caught.value)
    assert "cannot connect to the PeerTube database" in text
    assert f"{READER_ROLE}@127.0.0.1" in text
    assert "not-the-password" not in text


def test_nobody_listening_is_a_clear_error() -> None:
    from tests.net import free_port

    dsn = f"host=127.0.0.1 port={free_port()} dbname=peertube user=x password=y"
    with pytest.raises(DataError, match="cannot connect to the PeerTube database"):
        PeerTubeReader(dsn, connect_timeout=2).read_since(None)


def test_malformed_dsn_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid PostgreSQL connection string"):
        describe_dsn("host=127.0.0.1 port")


def test_missing_server_binaries_fail_with_the_make_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPCREC_PG_BIN", str(tmp_path))  # a directory without initdb
    with pytest.raises(pytest.fail.Exception, match="make postgres"):
        _server_bindir()
