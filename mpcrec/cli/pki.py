"""``mpcrec pki``: a local CA and certificates for a federation on one machine or a test bed."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``pki ca`` and ``pki issue``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "pki",
        help="make a local CA and instance certificates (mutual TLS)",
        description=(
            "Local certificates for mutual TLS. Real deployments may use their own CA: point "
            "the configs' `tls` at those files instead."
        ),
    )
    pki_sub = parser.add_subparsers(dest="pki_command", metavar="ACTION", required=True)
    ca = pki_sub.add_parser("ca", help="create a CA (ca.pem, ca.key) in DIR")
    ca.add_argument("dir", type=Path)
    ca.add_argument("--name", default="mpcrec local CA", help="the CA's common name")
    ca.add_argument("--days", type=int, default=365)
    ca.set_defaults(func=run_ca)
    issue = pki_sub.add_parser("issue", help="issue a certificate for an instance or launcher")
    issue.add_argument("--ca", type=Path, required=True, help="the CA directory")
    issue.add_argument("--out", type=Path, required=True, help="where <id>.pem/.key go")
    issue.add_argument("--id", required=True, dest="instance_id", help="instance id (CN)")
    issue.add_argument(
        "--host", action="append", default=[], help="IP or DNS name it serves on (repeatable)"
    )
    issue.add_argument("--days", type=int, default=365)
    issue.set_defaults(func=run_issue)


def run_ca(args: argparse.Namespace) -> int:
    """Create the CA."""
    from mpcrec.crypto.pki import create_ca

    paths = create_ca(args.dir, common_name=args.name, days=args.days)
    print(f"CA certificate {paths.cert}\nCA key         {paths.key} (keep it secret)")
    return 0


def run_issue(args: argparse.Namespace) -> int:
    """Issue one certificate."""
    from mpcrec.crypto.pki import issue_certificate

    paths = issue_certificate(
        args.ca, args.out, instance_id=args.instance_id, hosts=args.host, days=args.days
    )
    print(f"certificate {paths.cert}\nkey         {paths.key}\nCA          {paths.ca}")
    return 0
