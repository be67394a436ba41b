"""``mpcrec audit``: verify an exported audit log, or export one from a launcher's state."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``audit verify`` and ``audit export``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="verify a federation's signed audit log, or export it",
        description=(
            "Auditors trust neither the launcher nor the instances: from the log and the "
            "instances' public keys, check signatures, the Merkle tree and its signed heads, "
            "the committees' sortition, participation, the published models and the privacy "
            "budget. See docs/audit.md."
        ),
    )
    audit_sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser("verify", help="check every rule; exit 0 only if all hold")
    verify.add_argument("log", type=Path, help="the JSON Lines export")
    verify.add_argument(
        "--keys",
        type=Path,
        help='public keys obtained out of band: {"launcher": hex, "instances": {id: hex}}',
    )
    verify.add_argument(
        "--heads",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help="tree heads collected from nodes: a node's witnessed_head.json, "
        "tree_heads.jsonl or fork_evidence.jsonl, or a directory holding them (its state "
        "dir); repeatable",
    )
    verify.add_argument(
        "--require-heads",
        type=int,
        default=0,
        metavar="T",
        help="fail unless heads cosigned by at least T distinct nodes match the log",
    )
    verify.add_argument(
        "--max-head-age",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="fail if the log's latest signed head is older than this (0: not judged)",
    )
    verify.add_argument(
        "--ca",
        type=Path,
        help="the federation CA's certificate (PEM): check that every registered key is bound",
    )
    verify.add_argument("--format", choices=("text", "json"), default="text")
    verify.add_argument(
        "--workers", type=int, default=0, help="processes verifying signatures (0: all cores)"
    )
    verify.set_defaults(func=run_verify)
    export = audit_sub.add_parser("export", help="write the launcher's log as JSON Lines")
    export.add_argument(
        "--state-dir", type=Path, required=True, help="the launcher's (or demo's) state dir"
    )
    export.add_argument("--out", type=Path, required=True, help="the JSON Lines file to write")
    export.set_defaults(func=run_export)


def run_verify(args: argparse.Namespace) -> int:
    """Verify; print a report; 0 when every rule holds, 1 otherwise."""
    from mpcrec.audit.report import print_report
    from mpcrec.audit.verify import verify_file

    report = verify_file(
        args.log,
        keys_path=args.keys,
        heads_paths=args.heads,
        workers=args.workers or None,
        require_heads=args.require_heads,
        max_head_age_s=args.max_head_age,
        ca_path=args.ca,
    )
    if args.format == "json":
        print(json.dumps(report.to_json(), indent=2))
    else:
        print_report(report, source=str(args.log))
    return 0 if report.ok else 1


def run_export(args: argparse.Namespace) -> int:
    """Export the log of a state directory."""
    from mpcrec.audit.log import AuditLog

    log = AuditLog.in_state_dir(args.state_dir)
    try:
        lines = log.export_jsonl(args.out)
    finally:
        log.close()
    print(f"wrote {lines} lines ({log.size} entries) to {args.out}")
    return 0
