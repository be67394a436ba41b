"""Replay log entries into the federation's history: registry, configs and rounds.

Pure: :func:`replay` reads entries in log order and groups them per round. Entries that do
not fit the round protocol (a round opened twice, a contribution before the committee, an
entry for a closed round...) come back as ``order`` findings; the checks in
:mod:`mpcrec.audit.checks` then judge each round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry
from mpcrec.audit.result_contributions import contributions_digest, expanded, is_compact
from mpcrec.audit.schema import payload_error


@dataclass(frozen=True)
class Finding:
    """One broken rule: which entry (log index, ``None`` for the whole log) and why."""

    rule: str
    index: int | None
    message: str

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"rule": self.rule, "entry": self.index, "message": self.message}


@dataclass
class RoundRecord:
    """Everything the log says about one round."""

    round_id: int
    opened: LogEntry
    config: LogEntry | None
    reveals: LogEntry | None = None
    committee: LogEntry | None = None
    contributions: dict[str, LogEntry] = field(default_factory=dict)
    signatures: dict[str, LogEntry] = field(default_factory=dict)
    #: ``result_contributions`` payloads by their digest (hex)
    contribution_maps: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    published: LogEntry | None = None
    aborted: LogEntry | None = None

    @property
    def closed(self) -> bool:
        """Whether the round ended (published or aborted)."""
        return self.published is not None or self.aborted is not None

    def setting(self, name: str, default: Any) -> Any:
        """The value of ``name`` in the config in force for this round, else ``default``."""
        return self.config.payload.get(name, default) if self.config else default

    @property
    def members(self) -> list[str]:
        """The committee's member ids in rank order (empty before the draw)."""
        return list(self.committee.payload.get("members", [])) if self.committee else []


@dataclass
class History:
    """The federation as the log tells it."""

    registrations: dict[str, LogEntry] = field(default_factory=dict)
    configs: list[LogEntry] = field(default_factory=list)
    commits: list[LogEntry] = field(default_factory=list)
    rounds: list[RoundRecord] = field(default_factory=list)
    catalogues: list[LogEntry] = field(default_factory=list)

    def signing_keys(self) -> dict[str, bytes]:
        """Instance id -> raw Ed25519 public key, as registered (hex-decoding failures skipped)."""
        keys: dict[str, bytes] = {}
        for instance, entry in self.registrations.items():
            try:
                keys[instance] = bytes.fromhex(str(entry.payload["signing_key"]))
            except (KeyError, ValueError):
                continue
        return keys

    def launcher_key(self) -> bytes | None:
        """The launcher key named by the first config entry."""
        for entry in self.configs:
            try:
                return bytes.fromhex(str(entry.payload["launcher_key"]))
            except (KeyError, ValueError):
                return None
        return None


#: Kinds an instance authors (after registering); every other kind but ``register`` is
#: the launcher's.
_BY_INSTANCE = frozenset({Kind.SEED_COMMIT, Kind.CONTRIBUTION, Kind.RESULT_SIGNATURE})

_ROUND_STEPS: Mapping[str, str] = {
    Kind.SEED_REVEALS: "reveals",
    Kind.COMMITTEE: "committee",
    Kind.PUBLISH: "published",
    Kind.ABORT: "aborted",
}


def _misplaced(entry: LogEntry, why: str) -> Finding:
    return Finding("order", entry.index, f"{entry.kind} for round {entry.round}: {why}")


def _with_maps(record: RoundRecord, entry: LogEntry) -> LogEntry:
    """A compact result entry as the full result it signs by digest, rebuilt from the
    round's earlier ``result_contributions`` entry of that digest (the entry as it is if
    none matches, or for a full result or any other kind): the checks read full results.
    Its signature is checked over the entry as logged (``check_signatures``)."""
    result = entry.payload.get("result")
    if entry.kind != Kind.RESULT_SIGNATURE or not isinstance(result, dict):
        return entry
    if not is_compact(result):
        return entry
    maps = record.contribution_maps.get(str(result.get("contributions")))
    full = expanded(result, maps) if maps is not None else None
    return entry if full is None else replace(entry, payload={**entry.payload, "result": full})


def _unmatched(record: RoundRecord, entry: LogEntry) -> Finding | None:
    """A ``contribution`` finding for a result still naming its contributions by a digest
    no earlier ``result_contributions`` entry of its round carries."""
    result = entry.payload.get("result")
    if entry.kind != Kind.RESULT_SIGNATURE or not isinstance(result, dict):
        return None
    if not is_compact(result):
        return None
    why = (
        f"round {record.round_id}: {entry.author} signed contributions "
        f"{str(result.get('contributions'))[:16]}..., which no result_contributions "
        "entry of the round before it holds"
    )
    return Finding("contribution", entry.index, why)


def _step(record: RoundRecord, entry: LogEntry) -> Finding | None:
    """File a round entry into its record; a finding if the protocol forbids it here."""
    if record.closed:
        return _misplaced(entry, "the round already ended")
    if entry.kind in (Kind.CONTRIBUTION, Kind.RESULT_SIGNATURE, Kind.RESULT_CONTRIBUTIONS):
        if record.committee is None:
            return _misplaced(entry, "no committee was drawn yet")
        if entry.kind == Kind.RESULT_CONTRIBUTIONS:
            record.contribution_maps[contributions_digest(entry.payload).hex()] = entry.payload
            return None
        bucket = record.contributions if entry.kind == Kind.CONTRIBUTION else record.signatures
        if entry.author in bucket:
            return _misplaced(entry, f"a second one by {entry.author}")
        if entry.kind == Kind.CONTRIBUTION and record.signatures:
            return _misplaced(entry, "contributions closed when members signed the result")
        bucket[entry.author] = _with_maps(record, entry)
        return _unmatched(record, bucket[entry.author])
    attr = _ROUND_STEPS[entry.kind]
    if getattr(record, attr) is not None:
        return _misplaced(entry, "a second one")
    if entry.kind == Kind.COMMITTEE and record.reveals is None:
        return _misplaced(entry, "drawn before the seed reveals")
    if entry.kind == Kind.SEED_REVEALS and record.committee is not None:
        return _misplaced(entry, "revealed after the committee was drawn")
    if entry.kind == Kind.PUBLISH and not record.signatures:
        return _misplaced(entry, "published before any member signed the result")
    setattr(record, attr, entry)
    return None


def replay(entries: Sequence[LogEntry]) -> tuple[History, list[Finding]]:
    """Group ``entries`` into a :class:`History`; protocol-order violations as findings."""
    history = History()
    findings: list[Finding] = []
    current: RoundRecord | None = None
    for entry in entries:
        kind = entry.kind
        error = payload_error(entry)
        if error:
            findings.append(Finding("format", entry.index, f"{kind} entry: {error}"))
            continue
        if kind in _BY_INSTANCE and entry.author not in history.registrations:
            findings.append(
                Finding("registry", entry.index, f"{kind} by {entry.author!r} before it registered")
            )
            continue
        if kind == Kind.CONFIG:
            history.configs.append(entry)
        elif kind == Kind.REGISTER:
            if entry.author in history.registrations:
                findings.append(
                    Finding("registry", entry.index, f"{entry.author} registered a second time")
                )
            else:
                history.registrations[entry.author] = entry
        elif kind == Kind.SEED_COMMIT:
            history.commits.append(entry)
        elif kind == Kind.CATALOGUE:
            history.catalogues.append(entry)
        elif kind == Kind.ROUND_OPEN:
            expected = history.rounds[-1].round_id + 1 if history.rounds else None
            if current is not None and not current.closed:
                findings.append(
                    _misplaced(entry, f"round {current.round_id} has neither published nor aborted")
                )
            if entry.round is None or (expected is not None and entry.round != expected):
                findings.append(
                    _misplaced(entry, f"round ids must go up by one (next: {expected})")
                )
            strangers = sorted(set(entry.payload["participants"]) - set(history.registrations))
            if strangers:
                findings.append(
                    Finding("registry", entry.index, f"unregistered participants {strangers}")
                )
            config = history.configs[-1] if history.configs else None
            current = RoundRecord(entry.round if entry.round is not None else -1, entry, config)
            history.rounds.append(current)
        else:
            if current is None or entry.round != current.round_id:
                findings.append(_misplaced(entry, "that round is not the open round"))
                continue
            finding = _step(current, entry)
            if finding:
                findings.append(finding)
        if kind not in _BY_INSTANCE and kind != Kind.REGISTER and entry.author != LAUNCHER:
            findings.append(Finding("author", entry.index, f"{kind} must be by the launcher"))
    return history, findings
