"""Verify an exported audit log: parse it, run every check, report.

:func:`verify_entries` is pure (entries and heads in, :class:`Report` out);
:func:`verify_file` reads a JSON Lines export and an optional key file.

Key file (JSON): ``{"launcher": "<hex>", "instances": {"<id>": "<hex>", ...}}``, the raw
Ed25519 public keys the auditor obtained out of band. Without it the verifier trusts the
keys the log itself registers (internal consistency only).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpcrec.audit import checks
from mpcrec.audit.entries import LAUNCHER, LogEntry, LogFormatError, TreeHead
from mpcrec.audit.history import Finding, replay
from mpcrec.audit.signatures import start_verification, verify_signed
from mpcrec.errors import DataError


@dataclass
class Report:
    """The verdict: findings (empty when everything holds) and what the log contains."""

    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every rule holds."""
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        """JSON form (an infinite ε as the string ``"inf"``: JSON has no infinity)."""
        stats = dict(self.stats)
        if isinstance(stats.get("epsilon"), float) and math.isinf(stats["epsilon"]):
            stats["epsilon"] = "inf"
        return {
            "ok": self.ok,
            "stats": stats,
            "findings": [f.to_json() for f in self.findings],
        }


def privacy_statement(epsilon: float, config: Mapping[str, Any]) -> str:
    """One sentence on the privacy spent: ε at the configured δ, against the declared
    budget or stating that none was declared.

    >>> privacy_statement(float("inf"), {"delta": 1e-5, "epsilon_budget": None})
    'epsilon inf at delta 1e-05 (no noise); no budget declared: no differential-privacy promise'
    >>> privacy_statement(2.5, {"delta": 1e-5, "epsilon_budget": 8.0, "privacy_unit": "instance"})
    'epsilon 2.500 at delta 1e-05 of the declared budget 8 (instance level)'
    """
    spent = f"epsilon {epsilon:.3f}" if math.isfinite(epsilon) else "epsilon inf"
    spent += f" at delta {config.get('delta', 1e-5):g}"
    if not math.isfinite(epsilon):
        spent += " (no noise)"
    budget = config.get("epsilon_budget")
    if budget is None:
        return f"{spent}; no budget declared: no differential-privacy promise"
    return f"{spent} of the declared budget {budget:g} ({config.get('privacy_unit')} level)"


def parse_lines(
    lines: Iterable[bytes], *, source: str = ""
) -> tuple[list[LogEntry], list[tuple[str, TreeHead]], list[Finding]]:
    """Split JSON Lines into entries and ``(where, head)``; malformed lines as findings.

    ``where`` is ``"line N"`` (prefixed by ``source`` when given).
    """
    entries: list[LogEntry] = []
    heads: list[tuple[str, TreeHead]] = []
    bad: list[Finding] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source} line {number}".strip()
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise LogFormatError(f"{where}: not a JSON object")
            if "head" in data:
                heads.append((where, TreeHead.from_json(data, where=where)))
            else:
                entries.append(LogEntry.from_json(data, where=where))
        except LogFormatError as err:
            bad.append(Finding("format", None, err.message))
        except ValueError as err:
            bad.append(Finding("format", None, f"{where}: not JSON ({err})"))
    return entries, heads, bad


def _read(
    path: Path, source: str = ""
) -> tuple[list[LogEntry], list[tuple[str, TreeHead]], list[Finding]]:
    try:
        with open(path, "rb") as handle:
            return parse_lines(handle, source=source)
    except OSError as err:
        raise DataError(
            f"cannot read {path}: {err.strerror}",
            hint="export the log with `mpcrec audit export --state-dir DIR --out FILE`",
        ) from None


def verify_entries(
    entries: list[LogEntry],
    heads: list[tuple[str, TreeHead]],
    *,
    pinned: Mapping[str, bytes] | None = None,
    workers: int = 1,
) -> Report:
    """Run every check over parsed entries and heads (no I/O).

    With ``workers > 1`` the signatures are verified in forked processes while the other
    checks run here.
    """
    started = time.perf_counter()
    history, findings = replay(entries)
    keys = dict(history.signing_keys())
    launcher = history.launcher_key()
    if launcher is not None:
        keys[LAUNCHER] = launcher
    if pinned:
        keys.update(pinned)
        findings += checks.check_pinned_keys(history, pinned)
    pairs, unknown = checks.signature_batch(entries, keys)
    pending = start_verification(pairs, workers, check=verify_signed)
    findings += unknown
    findings += checks.check_sequence(entries)
    findings += checks.check_tree(entries, heads, keys.get(LAUNCHER))
    findings += checks.check_seeds(history)
    findings += checks.check_committees(history)
    findings += checks.check_results(history)
    findings += checks.check_versions(history)
    findings += checks.check_params(history)
    findings += checks.check_weights(history)
    budget_findings, epsilon = checks.check_budget(history)
    findings += budget_findings
    findings += checks.signature_findings(pairs, pending(), keys)
    if not heads:
        findings.append(Finding("tree", None, "the log has no signed tree head"))
    config = history.configs[-1].payload if history.configs else {}
    findings.sort(key=lambda f: (f.index if f.index is not None else -1, f.rule))
    return Report(
        findings,
        {
            "entries": len(entries),
            "tree_heads": len(heads),
            "instances": len(history.registrations),
            "rounds": len(history.rounds),
            "published": sum(r.published is not None for r in history.rounds),
            "aborted": sum(r.aborted is not None for r in history.rounds),
            "epsilon": epsilon,
            "delta": config.get("delta"),
            "epsilon_budget": config.get("epsilon_budget"),
            "privacy": privacy_statement(epsilon, config),
            "check_seconds": round(time.perf_counter() - started, 3),
        },
    )


def load_keys(path: Path) -> dict[str, bytes]:
    """Read a key file into ``{author id: raw Ed25519 public key}``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        keys = {str(i): bytes.fromhex(k) for i, k in data.get("instances", {}).items()}
        if "launcher" in data:
            keys[LAUNCHER] = bytes.fromhex(data["launcher"])
    except (OSError, ValueError, AttributeError) as err:
        raise DataError(
            f"cannot read key file {path}: {err}",
            hint='expected {"launcher": "<hex>", "instances": {"<id>": "<hex>"}}',
        ) from None
    bad = [who for who, key in keys.items() if len(key) != 32]
    if bad:
        raise DataError(f"key file {path}: {bad[0]}'s key is not 32 bytes of hex")
    return keys


def verify_file(
    path: Path,
    *,
    keys_path: Path | None = None,
    heads_paths: Sequence[Path] = (),
    workers: int | None = None,
) -> Report:
    """Verify a JSON Lines export (signatures checked on ``workers`` processes).

    ``heads_paths`` are files of tree heads collected from nodes (head lines as exported);
    each must match the log, else it is a ``fork`` (or ``tree``) finding.
    """
    started = time.perf_counter()
    entries, heads, bad = _read(path)
    for extra in heads_paths:
        stray, observed, malformed = _read(extra, source=str(extra))
        bad += malformed
        bad += [Finding("format", None, f"{extra}: holds log entries, not only heads")][
            : len(stray)
        ]
        heads += observed
    pinned = load_keys(keys_path) if keys_path else None
    report = verify_entries(entries, heads, pinned=pinned, workers=workers or os.cpu_count() or 1)
    report.findings[:0] = bad
    report.stats["seconds"] = round(time.perf_counter() - started, 3)
    return report
