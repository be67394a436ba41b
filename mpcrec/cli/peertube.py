"""``mpcrec peertube``: connect mpcrec to a PeerTube database and check it works.

``mpcrec peertube grants --role mpcrec_reader`` prints the GRANT statements that let a role
read exactly the columns mpcrec needs; ``mpcrec peertube check`` connects with the node's
settings (``--config node.yaml``) or a ``--dsn``, checks the schema and the privileges,
and reports the PeerTube migration, the row counts and what one read would return.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from mpcrec.data.peertube import PeerTubeReader
from mpcrec.data.peertube_grants import SUPPORTED_VERSIONS, grant_script
from mpcrec.data.peertube_settings import PeerTubeSettings
from mpcrec.federation.config_file import load_section


def register(sub: Any) -> None:
    """Add ``peertube check`` and ``peertube grants``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "peertube",
        help="connect to a PeerTube database: print grants, check access",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="peertube_command", metavar="ACTION", required=True)
    check = commands.add_parser("check", help="check schema, privileges and what a read returns")
    source = check.add_mutually_exclusive_group()
    source.add_argument("--config", type=Path, help="YAML file with a 'peertube:' section")
    source.add_argument("--dsn", help="libpq connection string (password from ~/.pgpass)")
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.set_defaults(func=run_check)
    grants = commands.add_parser("grants", help="print the GRANT statements for a reader role")
    grants.add_argument("--role", default="mpcrec_reader", help="the role mpcrec logs in as")
    grants.set_defaults(func=run_grants)


def run_grants(args: argparse.Namespace) -> int:
    """Print the statements as a ``psql`` script that stops at the first error and
    applies all or none (:func:`~mpcrec.data.peertube_grants.grant_script`)."""
    print(grant_script(args.role), end="")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Check access to PeerTube and summarise what mpcrec would read."""
    settings = (
        load_section(PeerTubeSettings, args.config, "peertube")
        if args.config
        else PeerTubeSettings()
    )
    dsn = args.dsn if args.dsn is not None else settings.dsn
    reader = PeerTubeReader(dsn, settle_seconds=settings.settle_seconds)
    report = reader.check()
    counted = reader.summarise()  # counts in PostgreSQL: no row is read
    excluded = reader.read_training_exclusions()
    signals = counted.signals
    summary = {
        "database": reader.where,
        "migration_version": report.migration_version,
        "rows": dict(report.rows),
        "signals": dict(signals),
        "users_with_signals": counted.users_with_signals,
        "public_videos": counted.public_videos,
        "remote_videos": counted.remote_videos,
        "users_opted_out": len(excluded.opted_out),
        "users_history_off": len(excluded.history_off),
    }
    if args.format == "json":
        print(json.dumps(summary, indent=2))
        return 0
    table = Table(title=f"PeerTube at {reader.where}: OK")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("PeerTube migration", str(report.migration_version))
    for name, value in report.rows.items():
        table.add_row(f'rows in "{name}"', f"{value:,}")
    for name, value in sorted(signals.items()):
        table.add_row(f"{name} signals readable", f"{value:,}")
    table.add_row("users with signals", f"{summary['users_with_signals']:,}")
    table.add_row(
        "public videos (remote)", f"{counted.public_videos:,} ({counted.remote_videos:,})"
    )
    table.add_row("users opted out of training", f"{len(excluded.opted_out):,}")
    table.add_row("users with history off (not trained)", f"{len(excluded.history_off):,}")
    console = Console()
    console.print(table)
    console.print(f"supported: {SUPPORTED_VERSIONS}", highlight=False)
    return 0
