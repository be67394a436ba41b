"""The columns of PeerTube's schema mpcrec reads, the grants for exactly those, and their check.

The reader needs SELECT on the columns of :data:`REQUIRED_COLUMNS` only; :func:`grant_sql`
writes the statements that give a role exactly that (column-level grants: the role cannot
read e-mails, password hashes or anything else); :func:`grant_script` wraps them for
``psql``: it stops at the first error and applies all of them or none (one transaction),
so ``mpcrec peertube grants | psql ...`` fails when a grant fails. :func:`schema_problems`
names each table or column that is missing or that the role may not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql

SUPPORTED_VERSIONS = (
    "PeerTube 6.0 and later, as the plugin (the signal columns have not changed since "
    "PeerTube 1.3; tested against a mirror of the v8 models, migration 1120)"
)

# Every table and column the reader touches: the schema check and the grants come from here.
REQUIRED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "userVideoHistory": ("id", "userId", "videoId", "createdAt", "updatedAt"),
    "accountVideoRate": ("id", "accountId", "videoId", "type", "createdAt", "updatedAt"),
    "account": ("id", "userId", "applicationId", "name"),
    "videoPlaylistElement": ("id", "videoPlaylistId", "videoId", "createdAt", "updatedAt"),
    "videoPlaylist": ("id", "ownerAccountId"),
    "video": (
        "id",
        "uuid",
        "url",
        "name",
        "privacy",
        "state",
        "remote",
        "publishedAt",
        "nsfw",
        "channelId",
        # the catalogue export's public metadata (mpcrec.data.peertube_catalogue)
        "category",
        "language",
        "licence",
        "duration",
    ),
    "videoTag": ("videoId", "tagId"),
    "tag": ("id", "name"),
    "application": ("migrationVersion",),
    # content rules at serving time (mpcrec.data.peertube_rules)
    "videoBlacklist": ("videoId",),
    "accountBlocklist": ("accountId", "targetAccountId"),
    "serverBlocklist": ("accountId", "targetServerId"),
    "videoChannel": ("id", "accountId", "name"),
    "actor": ("accountId", "serverId"),
    "user": ("id", "nsfwPolicy", "videosHistoryEnabled"),
    # who is left out of training (mpcrec.data.peertube_consent): the plugin's storage only,
    # never "settings" (the node's shared secret is one of them)
    "plugin": ("name", "type", "storage"),
}


def grant_sql(role: str) -> list[str]:
    """The SQL that lets ``role`` read exactly :data:`REQUIRED_COLUMNS` (and nothing else)."""
    name = sql.Identifier(role).as_string(None)
    statements = [f"GRANT USAGE ON SCHEMA public TO {name};"]
    for table, columns in REQUIRED_COLUMNS.items():
        cols = ", ".join(f'"{c}"' for c in columns)
        statements.append(f'GRANT SELECT ({cols}) ON "{table}" TO {name};')
    return statements


def grant_script(role: str) -> str:
    """:func:`grant_sql` as a ``psql`` script: ``ON_ERROR_STOP`` set, one transaction.

    ``psql`` exits with status 3 at the first failed statement (a missing table, a role
    that does not exist) and the transaction is rolled back: nothing half-granted, and a
    pipeline ``mpcrec peertube grants | psql`` that fails says so.
    """
    return "\n".join(
        [
            "-- mpcrec peertube grants: column-level SELECT on what mpcrec reads, all or nothing",
            "\\set ON_ERROR_STOP on",
            "BEGIN;",
            *grant_sql(role),
            "COMMIT;",
            "",
        ]
    )


def schema_problems(cur: psycopg.Cursor[tuple[Any, ...]]) -> tuple[list[str], list[str]]:
    """Missing ``table``/``table.column`` names, and the ones the role may not SELECT."""
    cur.execute(
        "SELECT c.relname, a.attname, "
        "has_column_privilege(c.oid, a.attnum, 'SELECT') "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v') "
        "AND c.relname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        (list(REQUIRED_COLUMNS),),
    )
    found = {(t, c): bool(ok) for t, c, ok in cur.fetchall()}
    tables = {t for t, _ in found}
    missing: list[str] = []
    unreadable: list[str] = []
    for table, columns in REQUIRED_COLUMNS.items():
        if table not in tables:
            missing.append(f'table "{table}"')
            continue
        for column in columns:
            if (table, column) not in found:
                missing.append(f'column "{table}"."{column}"')
            elif not found[(table, column)]:
                unreadable.append(f'"{table}"."{column}"')
    return missing, unreadable
