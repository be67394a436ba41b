"""The fault matrix's cells: which fault, fired when a round enters which phase.

A cell waits for the launcher's JSON event that says a round entered the phase (never a
sleep guessing the timing), injects the fault at once, lifts it when the fault's hold ends,
waits for a publish by a later round within :data:`RECOVERY_S`, then checks the invariants
(:mod:`mpcrec.bench.fault_invariants`) and the auditor's rules over the whole log so far.

Phases and the event that marks each: ``commit`` (round ``open``), ``reveal``
(``revealing``), ``draw`` (``committee_drawn``), ``upload`` (the round's first accepted
``contribution``), ``computing`` (``computing``), ``signing`` (the first member's signed
``result`` reached the launcher), ``publish`` (``published``).
"""

from __future__ import annotations

import errno
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from launch.round import Phase
from launch.sqlite_store import SQLiteStore
from mpcrec.audit.history import replay
from mpcrec.audit.log import AuditLog
from mpcrec.audit.verify import parse_lines, verify_file
from mpcrec.bench.fault_federation import Event, FaultFederation
from mpcrec.bench.fault_invariants import StoreView, violations

PHASES = ("commit", "reveal", "draw", "upload", "computing", "signing", "publish")
_STATE = {"commit": "open", "reveal": "revealing", "draw": "committee_drawn"}
_STATE |= {"computing": "computing", "publish": "published"}
#: a later round publishes within this many seconds of the fault (the bound the suite asserts)
RECOVERY_S = 180.0
#: seconds a full disk is held before space returns
DISK_HOLD_S = 6.0
#: a slow member's uplink, kbit/s (``tc tbf``; this kernel has no ``netem``)
SLOW_KBIT = 64
HEAD_WAIT_S = 20.0
#: post-draw aborts the auditor names by design (rule post_draw_abort: a crash and a
#: launcher's redraw look alike in the log); allowed only on the rounds a fault touched
BY_DESIGN = frozenset({"post_draw_abort"})
_UPLOADED = re.compile(rb"(\S+): round (\d+): uploaded")


def entered(phase: str, event: Event) -> bool:
    """Whether ``event`` says a round entered ``phase``."""
    kind = event.get("event")
    if phase == "upload":
        return kind == "contribution"
    if phase == "signing":
        return kind == "result" and bool(event.get("ok"))
    return kind == "round" and event.get("state") == _STATE[phase]


@dataclass(frozen=True)
class Fault:
    """One kind of fault: whom it hits, how it is injected and lifted."""

    name: str
    what: str
    victim: str  # launcher, member, dealer, contributor or nodes
    inject: Callable[[FaultFederation, str], None]
    lift: Callable[[FaultFederation, str], None]
    #: "now" (lifted at once), "round" (when a round ends after it) or "disk"
    hold: str = "round"
    dealer: bool = False


def _fill(fed: FaultFederation, _victim: str) -> None:
    with open(fed.state_dir / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 20))
                handle.flush()
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise


def _free(fed: FaultFederation, _victim: str) -> None:
    (fed.state_dir / "filler").unlink()
    if not fed.alive("launcher"):  # it exited on the full disk: the operator restarts it
        fed.start("launcher")


def _kill_nodes(fed: FaultFederation, _victim: str) -> None:
    for name in fed.nodes:
        fed.kill(name)


def _start_nodes(fed: FaultFederation, _victim: str) -> None:
    for name in fed.nodes:
        fed.start(name)


def _hosts(fed: FaultFederation) -> Any:
    assert fed.hosts is not None
    return fed.hosts


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("kill-launcher", "SIGKILL the launcher, restart it on the same store", "launcher",
              lambda fed, v: fed.kill(v), lambda fed, v: fed.start(v), hold="now"),
        Fault("kill-member", "SIGKILL a committee member; it restarts when a round ends",
              "member", lambda fed, v: fed.kill(v), lambda fed, v: fed.start(v)),
        Fault("kill-dealer", "SIGKILL the TTP dealer (a federation with dealer: true)",
              "dealer", lambda fed, v: fed.kill(v), lambda fed, v: fed.start(v), dealer=True),
        Fault("kill-contributor", "SIGKILL a contributor that is no member", "contributor",
              lambda fed, v: fed.kill(v), lambda fed, v: fed.start(v)),
        Fault("cut-member", "a member's link down until a round ends", "member",
              lambda fed, v: _hosts(fed).cut(v), lambda fed, v: _hosts(fed).heal(v)),
        Fault("slow-member", f"a member's uplink throttled to {SLOW_KBIT} kbit/s (tc tbf)",
              "member", lambda fed, v: _hosts(fed).slow(v, SLOW_KBIT),
              lambda fed, v: _hosts(fed).heal(v)),
        Fault("disk-full", f"the launcher's tmpfs full until a write fails, +{DISK_HOLD_S:.0f} s",
              "launcher", _fill, _free, hold="disk"),
        Fault("restart-nodes", "SIGKILL every node at once, start them again", "nodes",
              _kill_nodes, _start_nodes, hold="now"),
    )
}  # fmt: skip


@dataclass
class Cell:
    """One cell's outcome."""

    fault: str
    phase: str
    status: str = "not run"  # green, red, not run
    round_id: int = 0
    victim: str = ""
    recovery_s: float | None = None
    violations: dict[str, list[str]] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    by_design: list[str] = field(default_factory=list)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def victim_of(fault: Fault, phase: str, fed: FaultFederation, round_id: int) -> str:
    """Whom ``fault`` hits in ``round_id``; before the draw no committee exists yet, so a
    member (or dealer) fault hits a participant, by phase (stated in the cell's note)."""
    if fault.victim in ("launcher", "nodes"):
        return fault.victim
    assert fed.events is not None
    drawn = [
        e
        for e in fed.events.events
        if e.get("event") == "round" and e.get("round_id") == round_id and e.get("committee")
    ]
    rank = PHASES.index(phase) % 3
    if not drawn:
        return fed.nodes[rank if fault.victim != "contributor" else -1]
    committee = [str(m) for m in drawn[0]["committee"]]
    dealer = str(drawn[0].get("dealer", ""))
    if fault.victim == "member":
        return committee[rank]
    if fault.victim == "dealer" and dealer:
        return dealer
    return sorted(set(fed.nodes) - set(committee) - {dealer})[0]


def run_cell(
    fed: FaultFederation, fault: Fault, phase: str, after: int, window: float, touched: set[int]
) -> Cell:
    """Inject ``fault`` when a round later than ``after`` enters ``phase``; see the module
    docstring. ``window``: the longest a round may last (all its deadlines); ``touched``:
    the rounds earlier faults reached (this cell's are added)."""
    cell = Cell(fault.name, phase)
    event = fed.wait_event(lambda e: entered(phase, e) and e["round_id"] > after, 3 * window)
    if event is None:
        cell.status, cell.note = "red", f"no round entered {phase} in {3 * window:.0f} s"
        return cell
    rid = cell.round_id = int(event["round_id"])
    cell.victim = victim_of(fault, phase, fed, rid)
    started, refusals = time.monotonic(), _store_refusals(fed)
    fault.inject(fed, cell.victim)
    _hold(fed, fault, phase, rid, window)
    exited = fault.victim == "launcher" and fault.hold == "disk" and not fed.alive("launcher")
    missed = fault.hold == "disk" and _store_refusals(fed) == refusals
    fault.lift(fed, cell.victim)
    later = lambda rounds: any(  # noqa: E731
        r.phase is Phase.PUBLISHED and r.round_id > rid for r in rounds
    )
    if fed.wait_rounds(later, RECOVERY_S - (time.monotonic() - started)):
        cell.recovery_s = round(time.monotonic() - started, 1)
    judge(fed, cell, touched)
    if exited:  # it must wait for space, not die: red even though a restart recovered it
        cell.status, cell.note = "red", "the launcher exited on the full disk (restarted)"
    if missed:  # a fault that never bit proves nothing
        cell.status, cell.note = "red", "no write met the full disk while it was held"
    return cell


def _store_refusals(fed: FaultFederation) -> int:
    """How many writes the launcher's store refused, as the launcher (its scheduler) and the
    nodes (their calls) logged them."""
    logs = (fed.log(name, tail=1 << 30) for name in ["launcher", *fed.nodes])
    return sum(text.count("the launcher's store cannot write") for text in logs)


def _hold(fed: FaultFederation, fault: Fault, phase: str, rid: int, window: float) -> None:
    if fault.hold == "disk":  # until a write meets the full disk, then DISK_HOLD_S more
        before, deadline = _store_refusals(fed), time.monotonic() + window + 10
        while _store_refusals(fed) == before and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(DISK_HOLD_S)  # how long the disk stays full, not a guess at a timing
    elif fault.hold == "round":  # until a round ends after the fault
        first = rid + 1 if phase == "publish" else rid
        fed.wait_event(
            lambda e: (
                e.get("event") == "round"
                and e.get("state") in ("published", "aborted")
                and int(e["round_id"]) >= first
            ),
            window + 10,
        )


def judge(fed: FaultFederation, cell: Cell, touched: set[int]) -> None:
    """Check every invariant and the auditor's rules; set the cell's status. A finding of
    a rule in :data:`BY_DESIGN` is allowed on the rounds from the fault to the recovery
    (added to ``touched``) and those of earlier cells."""
    deadline = time.monotonic() + HEAD_WAIT_S
    while True:  # until a signed head covers the recovering publish (nodes ask for heads)
        store, lines = snapshot(fed)
        entries, heads, _ = parse_lines(lines)
        covered = max((head.size for _, head in heads), default=0)
        later = (e for e in entries if e.kind == "publish" and (e.round or 0) > cell.round_id)
        published = [e.index for e in later]
        if (published and covered > published[0]) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    history, _ = replay(entries)
    found = violations(store, history, acknowledged(fed))
    cell.violations = {name: broken for name, broken in found.items() if broken}
    exported = fed.root / f"audit-{cell.fault}-{cell.phase}.jsonl"
    exported.write_bytes(b"".join(_signed_prefix(lines, covered)))
    report = verify_file(exported, heads_paths=[fed.root / "nodes"], workers=1)
    last = store.rounds[-1].round_id if store.rounds else 0
    touched.update(range(cell.round_id, last + 1))
    for finding in report.findings:
        where = entries[finding.index].round if finding.index is not None else None
        text = f"{finding.rule}: {finding.message}"
        if finding.rule in BY_DESIGN and where in touched:
            cell.by_design.append(text)
        else:
            cell.findings.append(text)
    recovered = cell.recovery_s is not None
    cell.status = "green" if recovered and not cell.violations and not cell.findings else "red"
    if not recovered:
        cell.note = f"no later round published within {RECOVERY_S:.0f} s"


def _signed_prefix(lines: list[bytes], size: int) -> list[bytes]:
    """The export as of its largest signed head: what the launcher has committed to (the
    entries after it are the next round's, still being written)."""
    kept = []
    for line in lines:
        data = json.loads(line)
        inside = data["head"]["size"] <= size if "head" in data else data["index"] < size
        kept += [line] if inside else []
    return kept


def snapshot(fed: FaultFederation) -> tuple[StoreView, list[bytes]]:
    """What the launcher's store holds and its log, read in one transaction."""
    store = SQLiteStore(fed.state_dir / "launcher.sqlite")
    path = fed.root / "snapshot.jsonl"
    try:
        store.connection.execute("BEGIN")
        view = read_store(store)
        log = AuditLog(store.connection, launcher_key=None)
        log.export_jsonl(path)
        store.connection.execute("ROLLBACK")
    finally:
        store.close()
    return view, [line for line in path.read_bytes().splitlines(keepends=True) if line.strip()]


def read_store(store: SQLiteStore) -> StoreView:
    """What the launcher's store holds now."""
    latest = store.latest_round()
    rounds = [store.get_round(i) for i in range(1, (latest.round_id if latest else 0) + 1)]
    kept = tuple(r for r in rounds if r is not None)
    top = store.latest_model()
    models = {
        v: m.model_hash.hex()
        for v in range(top.version + 1 if top else 0)
        if (m := store.get_model(v)) is not None
    }
    contributions = {r.round_id: frozenset(store.contributions(r.round_id)) for r in kept}
    revealed = {r.round_id for r in kept if any(x.ok for x in store.results(r.round_id).values())}
    return StoreView(kept, models, contributions, frozenset(revealed))


def acknowledged(fed: FaultFederation) -> list[tuple[int, str]]:
    """``(round, instance)`` of every upload a node logged the launcher's receipt for."""
    found: list[tuple[int, str]] = []
    for name in fed.nodes:
        path = fed.root / f"{name}.log"
        text = path.read_bytes() if path.exists() else b""
        found += [(int(m[2]), m[1].decode()) for m in _UPLOADED.finditer(text)]
    return found
