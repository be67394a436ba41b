"""``mpcrec catalogue``: show, export and verify a copy of the federation's catalogue."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

_DESCRIPTION = """\
The federation's video catalogue: row k of the shared model is row k of the catalogue,
forever. Each version appends rows (new public videos of the instances, and remote videos
their users interacted with, by URL) and may mark earlier rows retired (deleted or made
private); its hash chains from the previous version's, and the launcher signs it in the
audit log (entry kind `catalogue`). See docs/catalogue.md.

DIR is a directory of catalogue versions (v00000001.jsonl, ...): the launcher's
STATE/catalogue, or a node's STATE/catalogue (the versions it fetched and verified).

  show DIR                      check the chain from version 1; one line per version
  export DIR --out FILE         the rows as JSON Lines (row, retired, metadata), or
                                --format txt: catalogue.txt (line k = URL UUID of row k)
  verify DIR --log audit.jsonl  the copy is the one the launcher signed, version by
                                version, and the log's catalogue entries form one chain
                                whose every round's model rows trace to a signed version
"""


def register(sub: Any) -> None:
    """Add ``catalogue show|export|verify``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "catalogue",
        help="show, export or verify a copy of the federation's video catalogue",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="catalogue_command", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="check the chain; one line per version")
    show.add_argument("dir", type=Path, help="a directory of catalogue versions")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(func=run_show)
    export = actions.add_parser("export", help="write the rows (JSON Lines or catalogue.txt)")
    export.add_argument("dir", type=Path, help="a directory of catalogue versions")
    export.add_argument("--out", type=Path, required=True, help="the file to write")
    export.add_argument(
        "--format",
        choices=("jsonl", "txt"),
        default="jsonl",
        help="jsonl: {row, retired, fields...} per row; txt: 'URL UUID' per row (catalogue.txt)",
    )
    export.set_defaults(func=run_export)
    verify = actions.add_parser(
        "verify", help="check the copy against the signed log; exit 0 only if it holds"
    )
    verify.add_argument("dir", type=Path, help="a directory of catalogue versions")
    verify.add_argument(
        "--log", type=Path, required=True, help="the audit log (mpcrec audit export)"
    )
    verify.add_argument(
        "--keys", type=Path, help="pinned keys (as for mpcrec audit verify): the launcher's"
    )
    verify.add_argument("--format", choices=("text", "json"), default="text")
    verify.set_defaults(func=run_verify)


def _versions(directory: Path) -> list[dict[str, Any]]:
    from mpcrec.data.catalogue import ChainTip, check_extends
    from mpcrec.data.catalogue_store import CatalogueDir
    from mpcrec.errors import DataError

    files = CatalogueDir(directory)
    if not files.directory.is_dir():
        raise DataError(
            f"{directory} is not a directory",
            hint="give the launcher's or a node's STATE/catalogue",
        )
    tip, out = ChainTip(), []
    for diff in files.diffs():
        tip = check_extends(tip, diff)
        out.append(diff.header.log_payload())
    return out


def run_show(args: argparse.Namespace) -> int:
    """Print each version (the whole chain checked first)."""
    from rich.console import Console
    from rich.table import Table

    versions = _versions(args.dir)
    if args.format == "json":
        print(json.dumps({"versions": versions}, indent=2))
        return 0
    table = Table(title=f"catalogue {args.dir}: {len(versions)} versions, chain verified")
    for column in ("version", "rows", "new rows", "retired", "newly retired", "hash"):
        table.add_column(column, justify="right" if column != "hash" else "left")
    for v in versions:
        new = v["rows"] - v["first_row"]
        table.add_row(
            str(v["version"]), f"{v['rows']:,}", f"{new:,}", f"{v['retired']:,}",
            f"{v['new_retired']:,}", v["hash"][:16],
        )  # fmt: skip
    Console().print(table)
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write the rows of the whole (verified) chain."""
    from mpcrec.data.catalogue_merge import CatalogueBook
    from mpcrec.data.catalogue_store import CatalogueDir
    from mpcrec.files import write_atomic

    book = CatalogueBook.replay(CatalogueDir(args.dir).diffs())
    if args.format == "txt":
        lines = [f"{r.url} {r.uuid}".rstrip() for r in book.records]
    else:
        lines = [
            json.dumps(
                {"row": k, "retired": bool(book.retired[k]), **_fields(r)}, ensure_ascii=False
            )
            for k, r in enumerate(book.records)
        ]
    write_atomic(args.out, ("\n".join(lines) + "\n").encode(), mode=0o644)
    print(f"{len(lines):,} rows of version {book.tip.version} written to {args.out}")
    return 0


def _fields(record: Any) -> dict[str, Any]:
    from mpcrec.data.catalogue import ROW_FIELDS

    return dict(zip(ROW_FIELDS, record.to_list(), strict=True))


def run_verify(args: argparse.Namespace) -> int:
    """Check the copy against the log's signed entries and rule ``catalogue``."""
    from mpcrec.audit import checks
    from mpcrec.audit.history import replay
    from mpcrec.audit.verify import parse_lines, verify_file

    versions = _versions(args.dir)  # the chain of the copy itself
    report = verify_file(args.log, keys_path=args.keys, workers=1)  # a missing log fails here
    with open(args.log, "rb") as handle:
        entries, _, _ = parse_lines(handle)
    history, _ = replay(entries)
    findings = checks.check_copy(versions, history)
    findings += [f for f in report.findings if f.rule in ("catalogue", "signature", "key")]
    if args.format == "json":
        out = {
            "ok": not findings,
            "versions": len(versions),
            "findings": [f.to_json() for f in findings],
        }
        print(json.dumps(out, indent=2))
    else:
        verdict = "VERIFIED" if not findings else "FAILED"
        print(f"{verdict}: {len(versions)} versions of {args.dir} against {args.log}")
        for f in findings:
            where = f"entry {f.index}" if f.index is not None else "copy"
            print(f"  {f.rule} {where}: {f.message}")
    return 0 if not findings else 1
