"""``mpcrec pki``: a local CA and certificates for a federation on one machine or a test bed."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``pki ca``, ``pki csr`` and ``pki issue``."""
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
    csr = pki_sub.add_parser(
        "csr",
        help="on the instance: make its TLS key and a signing request for the CA holder",
        description="Writes <id>.key (0600, never leaves this machine) and <id>.csr (send "
        "it to whoever holds the federation CA key; they answer with <id>.pem).",
    )
    csr.add_argument("--out", type=Path, required=True, help="where <id>.key/.csr go")
    csr.add_argument("--id", required=True, dest="instance_id", help="instance id (CN)")
    csr.add_argument(
        "--host", action="append", default=[], help="IP or DNS name it serves on (repeatable)"
    )
    csr.set_defaults(func=run_csr)
    issue = pki_sub.add_parser(
        "issue",
        help="on the CA holder's side: issue a certificate (from a CSR, or with a new key)",
    )
    issue.add_argument("--ca", type=Path, required=True, help="the CA directory")
    issue.add_argument("--out", type=Path, required=True, help="where <id>.pem (/.key) go")
    issue.add_argument(
        "--csr", type=Path, help="an instance's signing request: issue for its key (no key made)"
    )
    issue.add_argument("--id", dest="instance_id", help="instance id (CN), without --csr")
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


def run_csr(args: argparse.Namespace) -> int:
    """Make the instance's key and signing request."""
    from mpcrec.crypto.csr import create_request

    request = create_request(args.out, instance_id=args.instance_id, hosts=args.host)
    key = args.out / f"{args.instance_id}.key"
    print(f"key     {key} (stays here)\nrequest {request.path} (send it to the CA holder)")
    return 0


def run_issue(args: argparse.Namespace) -> int:
    """Issue one certificate: for a CSR's key, or with a key made here (test beds)."""
    from mpcrec.crypto.csr import issue_from_request
    from mpcrec.crypto.pki import issue_certificate
    from mpcrec.errors import UserError

    if args.csr is not None:
        if args.instance_id or args.host:
            raise UserError("--id and --host come from the CSR", hint="drop them with --csr")
        cert, asked = issue_from_request(args.ca, args.csr, args.out, days=args.days)
        hosts = ", ".join(asked.hosts) or "none"
        print(f"certificate {cert}\n  for instance {asked.instance_id!r}, hosts {hosts}")
        return 0
    if not args.instance_id:
        raise UserError("give --id (or --csr)", hint="`mpcrec pki issue --csr FILE` is preferred")
    paths = issue_certificate(
        args.ca, args.out, instance_id=args.instance_id, hosts=args.host, days=args.days
    )
    print(f"certificate {paths.cert}\nkey         {paths.key}\nCA          {paths.ca}")
    return 0
