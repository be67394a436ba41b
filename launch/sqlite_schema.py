"""The launcher store's SQLite schema (:class:`~launch.sqlite_store.SQLiteStore`), and the
columns added since its first version."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS instance (
    instance_id TEXT PRIMARY KEY, signing_key BLOB NOT NULL, sealing_key BLOB NOT NULL,
    mpc_address TEXT NOT NULL, registered_at REAL NOT NULL,
    certificate BLOB NOT NULL DEFAULT x'', key_binding BLOB NOT NULL DEFAULT x'');
CREATE TABLE IF NOT EXISTS round (
    round_id INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seed_commit (
    round_id INTEGER, instance_id TEXT, commitment BLOB NOT NULL,
    PRIMARY KEY (round_id, instance_id));
CREATE TABLE IF NOT EXISTS seed_reveal (
    round_id INTEGER, instance_id TEXT, secret BLOB NOT NULL,
    PRIMARY KEY (round_id, instance_id));
CREATE TABLE IF NOT EXISTS contribution (
    round_id INTEGER, contributor TEXT, weight REAL NOT NULL, digest BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL, PRIMARY KEY (round_id, contributor));
CREATE TABLE IF NOT EXISTS envelope (
    round_id INTEGER, contributor TEXT, member TEXT, data BLOB NOT NULL,
    PRIMARY KEY (round_id, member, contributor));
CREATE TABLE IF NOT EXISTS result (
    round_id INTEGER, member TEXT, ok INTEGER NOT NULL, reason TEXT NOT NULL,
    model_hash BLOB NOT NULL, accepted TEXT NOT NULL, signature BLOB NOT NULL, model BLOB NOT NULL,
    PRIMARY KEY (round_id, member));
CREATE TABLE IF NOT EXISTS model (
    version INTEGER PRIMARY KEY, n_items INTEGER NOT NULL, dim INTEGER NOT NULL,
    data BLOB NOT NULL);
"""


# Columns added since the first schema: (table, column, declaration). A database made
# before them gets them on open, with empty values (an unbound registration).
MIGRATIONS = (
    ("instance", "certificate", "BLOB NOT NULL DEFAULT x''"),
    ("instance", "key_binding", "BLOB NOT NULL DEFAULT x''"),
    # a Gram release's round (issue 16): the revealed slice with each result, and the
    # slice kept beside the version it published (mpcrec.federation.gram_slice)
    ("result", "gram_slice", "BLOB NOT NULL DEFAULT x''"),
    ("result", "slice_hash", "BLOB NOT NULL DEFAULT x''"),
    ("model", "gram_slice", "BLOB NOT NULL DEFAULT x''"),
)


def migrate(db: sqlite3.Connection) -> None:
    """Add the columns of :data:`MIGRATIONS` a database lacks."""
    for table, column, declaration in MIGRATIONS:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
