"""Rule ``catalogue``: every version extends the one before; every model row traces to one.

Pure, over the replayed history (:class:`~mpcrec.audit.history.History`):

- the ``catalogue`` entries are versions 1, 2, 3, ... in log order; each names the previous
  version's hash as ``previous`` (32 zero bytes for version 1), starts at the previous
  version's row count (rows are only appended), retires no more rows than existed, adds its
  retirements to the previous count, and its ``hash`` is the chain link recomputed from its
  own fields (:func:`mpcrec.data.catalogue.payload_hash`);
- a round that names a catalogue version (``round_open``: ``catalogue_version``, and
  ``rows``, its model's row count) names one signed before it opened that has at least as
  many rows (model row ``k`` is that version's row ``k``; a model that grows with the
  catalogue has exactly its rows); versions and row counts never go back from one round to
  the next; once a round names a version, every later round does (a model row never loses
  its provenance).

What it cannot prove: that the rows behind a diff digest are the ones nodes were served
(each node checks its copy against this entry before it takes part in a round: refusal
``catalogue-unverified``), nor that the merge was fair to every instance (an instance checks
its own videos are in: docs/catalogue.md).
"""

from __future__ import annotations

from typing import Any

from mpcrec.audit.entries import LogEntry
from mpcrec.audit.history import Finding, History
from mpcrec.data.catalogue import GENESIS, payload_hash

RULE = "catalogue"


def _link_problems(entry: LogEntry, before: dict[str, Any] | None) -> list[str]:
    p = entry.payload
    version, rows, first = p["version"], p["rows"], p["first_row"]
    prior_version = before["version"] if before else 0
    prior_hash = before["hash"] if before else GENESIS.hex()
    prior_rows = before["rows"] if before else 0
    prior_retired = before["retired"] if before else 0
    problems = []
    if version != prior_version + 1:
        problems.append(f"version {version} follows version {prior_version}")
    if p["previous"] != prior_hash:
        problems.append("its previous hash is not the last version's hash: the chain forks")
    if first != prior_rows or rows < first:
        problems.append(f"rows {first}..{rows} do not append to {prior_rows} rows")
    if p["new_retired"] > first or p["retired"] != prior_retired + p["new_retired"]:
        problems.append("its retired count does not add up")
    if payload_hash(p).hex() != p["hash"]:
        problems.append("its hash is not the chain link of its fields")
    return problems


def check_catalogue(history: History) -> list[Finding]:
    """Findings of rule ``catalogue`` (module docstring)."""
    findings: list[Finding] = []
    before: dict[str, Any] | None = None
    signed: dict[int, tuple[int, int]] = {}  # version -> (rows, log index)
    for entry in history.catalogues:
        problems = _link_problems(entry, before)
        findings += [Finding(RULE, entry.index, f"catalogue entry: {m}") for m in problems]
        if not problems:
            before = dict(entry.payload)
            signed[int(entry.payload["version"])] = (int(entry.payload["rows"]), entry.index)
    findings += _round_provenance(history, signed)
    return findings


def _round_provenance(history: History, signed: dict[int, tuple[int, int]]) -> list[Finding]:
    findings: list[Finding] = []
    last: tuple[int, int] | None = None
    for record in history.rounds:
        opened = record.opened
        version, rows = opened.payload.get("catalogue_version"), opened.payload.get("rows")
        if version is None or rows is None:
            if last is not None:
                findings.append(
                    Finding(
                        RULE, opened.index, f"round {record.round_id} names no catalogue version"
                    )
                )
            continue
        known = signed.get(version)
        if known is None or known[1] > opened.index:
            findings.append(
                Finding(
                    RULE,
                    opened.index,
                    f"round {record.round_id}: catalogue version {version} "
                    "was not signed before the round opened",
                )
            )
        elif known[0] < rows:
            findings.append(
                Finding(
                    RULE,
                    opened.index,
                    f"round {record.round_id} has {rows} model rows, "
                    f"catalogue version {version} only {known[0]}: rows without provenance",
                )
            )
        if last is not None and (version < last[0] or rows < last[1]):
            findings.append(
                Finding(
                    RULE,
                    opened.index,
                    f"round {record.round_id} goes back to catalogue "
                    f"version {version} ({rows} rows) after version {last[0]} ({last[1]})",
                )
            )
        last = (version, rows)
    return findings


def check_copy(headers: list[dict[str, Any]], history: History) -> list[Finding]:
    """Findings of rule ``catalogue`` for a copy of the catalogue (its version headers'
    :meth:`~mpcrec.data.catalogue.CatalogueHeader.log_payload`, in version order) against
    the log: every version of the copy is the one the launcher signed, and the copy lacks
    none the log signed."""
    signed = {int(e.payload["version"]): e for e in history.catalogues}
    findings = []
    for header in headers:
        entry = signed.get(int(header["version"]))
        if entry is None:
            findings.append(
                Finding(RULE, None, f"version {header['version']} of the copy is not in the log")
            )
        elif dict(entry.payload) != header:
            findings.append(
                Finding(
                    RULE,
                    entry.index,
                    f"version {header['version']} of the copy is not the one the launcher signed",
                )
            )
    missing = sorted(set(signed) - {int(h["version"]) for h in headers})
    if missing:
        findings.append(Finding(RULE, None, f"the copy lacks signed versions {missing}"))
    return findings
