"""Verify an exported audit log: parse it, run every check, report.

:func:`verify_entries` is pure (entries and heads in, :class:`Report` out);
:func:`verify_file` reads a JSON Lines export and an optional key file.

Heads collected from nodes (``--heads``: files or directories holding their
``witnessed_head.json``, ``tree_heads.jsonl`` and ``fork_evidence.jsonl``, both heads of
each evidence line) are checked against the log like its own heads (``tree``, ``fork``):
a node that refused a history keeps it only as evidence, so an auditor names the head it
refused. The cosigned ones also count towards ``--require-heads`` (``heads``,
:mod:`mpcrec.audit.checks.heads`).

Key file (JSON): ``{"launcher": "<hex>", "instances": {"<id>": "<hex>", ...}}``, the raw
Ed25519 public keys the auditor obtained out of band, and optionally ``"beacon": {drand's
/info document}``, the beacon chain the auditor pinned. Without it the verifier trusts the
keys (and the beacon chain) the log itself declares (internal consistency only).
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
from mpcrec.audit.history import Finding, History, replay
from mpcrec.audit.signatures import start_verification, verify_signed
from mpcrec.audit.tree_heads import EVIDENCE_FILE
from mpcrec.audit.witness import WITNESS_FILE, WitnessedHead, is_witness_line
from mpcrec.crypto.beacon import BeaconError, ChainInfo
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
    >>> privacy_statement(8.0, {"epsilon_budget": 8.0, "privacy_unit": "user", "accountant": "gdp"})
    'epsilon 8.000 at delta 1e-05 of the declared budget 8 (user level, accountant gdp)'
    """
    spent = f"epsilon {epsilon:.3f}" if math.isfinite(epsilon) else "epsilon inf"
    spent += f" at delta {config.get('delta', 1e-5):g}"
    if not math.isfinite(epsilon):
        spent += " (no noise)"
    budget = config.get("epsilon_budget")
    if budget is None:
        return f"{spent}; no budget declared: no differential-privacy promise"
    level = f"{config.get('privacy_unit')} level"
    if config.get("accountant") == "gdp":  # named by the log (logs without it: RDP)
        level += ", accountant gdp"
    return f"{spent} of the declared budget {budget:g} ({level})"


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
            elif {"ours", "theirs"} <= set(data):  # a node's fork evidence: both heads
                for side in ("ours", "theirs"):
                    at = f"{source} {side} line {number}".strip()
                    heads.append((at, TreeHead.from_json(data[side], where=at)))
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
    pinned_beacon: ChainInfo | None = None,
    witnesses: Sequence[tuple[str, WitnessedHead]] = (),
    require_heads: int = 0,
    max_head_age_s: float = 0.0,
    now: float | None = None,
    ca_pem: bytes | None = None,
) -> Report:
    """Run every check over parsed entries and heads (no I/O but the clock).

    With ``workers > 1`` the signatures are verified in forked processes while the other
    checks run here. ``witnesses`` are nodes' cosigned heads (their heads are among
    ``heads`` too); ``require_heads`` distinct nodes' must match the log. With
    ``max_head_age_s`` the largest head must be at most that old at ``now`` (default: the
    clock).
    Rule ``binding`` needs the federation CA's certificate (``ca_pem``); without it
    the report says it was not checked (``binding_checked``).
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
    findings += checks.check_participants(history)
    findings += checks.check_witnesses(
        entries, witnesses, keys, keys.get(LAUNCHER), required=require_heads
    )
    now_ms = int((time.time() if now is None else now) * 1000)
    findings += checks.check_head_times(heads, now_ms=now_ms, max_age_s=max_head_age_s)
    findings += checks.check_seeds(history)
    findings += checks.check_beacons(history, pinned_beacon)
    findings += checks.check_post_draw_aborts(history)
    findings += checks.check_committees(history)
    findings += checks.check_results(history)
    findings += checks.check_versions(history)
    findings += checks.check_params(history)
    findings += checks.check_weights(history)
    findings += checks.check_catalogue(history)
    budget_findings, epsilon = _budgets(history)
    findings += budget_findings
    findings += checks.check_bindings(history, ca_pem) if ca_pem is not None else []
    findings += checks.signature_findings(pairs, pending(), keys)
    if not heads:
        findings.append(Finding("tree", None, "the log has no signed tree head"))
    findings.sort(key=lambda f: (f.index if f.index is not None else -1, f.rule))
    stats = _stats(entries, heads, history, epsilon)
    stats["witnesses"] = len({w.witness for _, w in witnesses})
    stats["binding_checked"] = ca_pem is not None
    stats["draws"] = checks.draw_bias(history)
    stats["check_seconds"] = round(time.perf_counter() - started, 3)
    return Report(findings, stats)


def _budgets(history: History) -> tuple[list[Finding], float]:
    """The ``budget`` and ``user_budget`` findings, and the ε of the promise in force (the
    user-level one for a user-level run)."""
    budget_findings, epsilon = checks.check_budget(history)
    user_findings, user_epsilon = checks.check_user_budget(history)
    if history.configs and history.configs[-1].payload.get("privacy_unit") == "user":
        epsilon = user_epsilon
    return budget_findings + user_findings, epsilon


def _stats(
    entries: Sequence[LogEntry],
    heads: Sequence[tuple[str, TreeHead]],
    history: History,
    epsilon: float,
) -> dict[str, Any]:
    """What the log holds, and the privacy it spent."""
    config = history.configs[-1].payload if history.configs else {}
    return {
        "entries": len(entries),
        "tree_heads": len(heads),
        "instances": len(history.registrations),
        "rounds": len(history.rounds),
        "published": sum(r.published is not None for r in history.rounds),
        "aborted": sum(r.aborted is not None for r in history.rounds),
        "catalogue_versions": len(history.catalogues),
        "epsilon": epsilon,
        "delta": config.get("delta"),
        "epsilon_budget": config.get("epsilon_budget"),
        "privacy": privacy_statement(epsilon, config),
    }


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


def load_beacon_pin(path: Path) -> ChainInfo | None:
    """The key file's pinned beacon chain (``"beacon"``: drand's /info document), if any."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8")).get("beacon")
        return ChainInfo.from_json(raw) if raw is not None else None
    except (OSError, ValueError, AttributeError, BeaconError) as err:
        raise DataError(
            f"cannot read the beacon chain in key file {path}: {err}",
            hint='expected "beacon": {"public_key", "period", "genesis_time", "hash", "schemeID"}',
        ) from None


def collected_heads(paths: Sequence[Path]) -> list[Path]:
    """The head files under ``paths``: each file as given, each directory's
    ``witnessed_head.json``, ``tree_heads.jsonl`` and ``fork_evidence.jsonl`` files (at any
    depth)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            names = (WITNESS_FILE, "tree_heads.jsonl", EVIDENCE_FILE)
            found = sorted(f for name in names for f in path.rglob(name))
            if not found:
                raise DataError(
                    f"{path} holds no {WITNESS_FILE}, tree_heads.jsonl or {EVIDENCE_FILE}",
                    hint="collect each node's state directory (or those files)",
                )
            out += found
        else:
            out.append(path)
    return out


def _witnesses(path: Path) -> list[tuple[str, WitnessedHead]]:
    """The cosigned heads in a collected file (malformed ones are ``format`` findings of
    :func:`parse_lines` already)."""
    out: list[tuple[str, WitnessedHead]] = []
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                data = json.loads(line)
                if is_witness_line(data):
                    where = f"{path} line {number}"
                    out.append((where, WitnessedHead.from_json(data, where=where)))
            except (ValueError, LogFormatError):
                continue
    return out


def _read_ca(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise DataError(
            f"cannot read the CA certificate {path}: {err.strerror}",
            hint="give the federation CA's certificate (PEM), e.g. ca.pem",
        ) from None


def verify_file(
    path: Path,
    *,
    keys_path: Path | None = None,
    heads_paths: Sequence[Path] = (),
    workers: int | None = None,
    require_heads: int = 0,
    max_head_age_s: float = 0.0,
    ca_path: Path | None = None,
) -> Report:
    """Verify a JSON Lines export (signatures checked on ``workers`` processes).

    ``heads_paths`` are files or directories of tree heads collected from nodes (see
    :func:`collected_heads`); each head must match the log, else it is a ``fork`` (or
    ``tree``) finding, and ``require_heads`` distinct nodes' cosigned heads must.
    ``ca_path``: the federation CA's certificate (PEM), for rule ``binding``.
    """
    started = time.perf_counter()
    entries, heads, bad = _read(path)
    witnesses: list[tuple[str, WitnessedHead]] = []
    for extra in collected_heads(heads_paths):
        stray, observed, malformed = _read(extra, source=str(extra))
        bad += malformed
        bad += [Finding("format", None, f"{extra}: holds log entries, not only heads")][
            : len(stray)
        ]
        heads += observed
        witnesses += _witnesses(extra)
    pinned = load_keys(keys_path) if keys_path else None
    ca_pem = _read_ca(ca_path) if ca_path else None
    beacon = load_beacon_pin(keys_path) if keys_path else None
    report = verify_entries(
        entries,
        heads,
        pinned=pinned,
        workers=workers or os.cpu_count() or 1,
        pinned_beacon=beacon,
        witnesses=witnesses,
        require_heads=require_heads,
        max_head_age_s=max_head_age_s,
        ca_pem=ca_pem,
    )
    report.findings[:0] = bad
    report.stats["seconds"] = round(time.perf_counter() - started, 3)
    return report
