"""The launcher's log lines about its rounds: each transition, each member's failure that
came after its round aborted, and one summary line per round aborted while computing that
names every member's report.

A computing round aborts at the first failure report (``members failed: {...}``), a
disagreement, too few accepted contributions, or silence past its deadline: the abort's
reason names only what had reached the launcher. The other members' reports may come after
(refused as too late, each a WARNING of its own: :func:`launch.transitions.late_failure`).
:class:`RoundLog` keeps every member's report of such a round and logs one WARNING once all
its members have reported, or :data:`GRACE_S` after the abort (never later than the round's
computing deadline, when every member's report is due), e.g.::

    round 7 aborted (members failed: {'tube-b': 'peer died'}); its members: tube-a failed:
    'session set-up timed out'; tube-b failed: 'peer died'; tube-c: no report (30 s after
    the abort)

(one line), and the same as one event, ``abort_summary`` (``--format json``: ``round_id``,
``reason``, ``failed`` {member: its words}, ``returned`` and ``silent`` [members]). Nothing
here goes into the signed log (its entries are unchanged), and nothing
waits for it: the next round opens as before. The summary is the launcher's memory only: a
launcher restarted in between logs the late failures, not the summary. Every method is
called under the launcher's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from launch.round import Phase, Round
from launch.store import LauncherStore, MemberResult
from launch.transitions import late_failure

log = logging.getLogger("mpcrec.launcher")

#: How long after an abort the summary waits for the members' reports: a member that
#: computes on notices a failed committee step within its ``mpc_timeout_s`` (60 s by
#: default) and reports it; half of that is the time an operator waits for the line.
GRACE_S = 30.0
QUOTED = 500  # the characters of a member's words quoted (one line: repr)


def _report(result: MemberResult) -> str:
    """A member's report as the summary quotes it."""
    return "returned its result" if result.ok else f"failed: {result.reason[:QUOTED]!r}"


@dataclass
class _Aborted:
    """A round aborted while computing whose summary is due: its members' reports so far."""

    round: Round
    since: float  # when it aborted
    due: float  # when the summary is logged at the latest
    reports: dict[str, MemberResult] = field(default_factory=dict)  # each member's first

    def complete(self) -> bool:
        return set(self.reports) >= set(self.round.committee)


class RoundLog:
    """The launcher's round lines (module docstring).

    Parameters
    ----------
    store:
        Where the members' results of a round are (read once, at its abort).
    emit:
        Called with each summary's event (``abort_summary``) and its fields.
    grace_s:
        How long after an abort the summary waits for the members' reports.
    """

    def __init__(
        self,
        store: LauncherStore,
        emit: Callable[..., None] = lambda kind, **fields: None,
        grace_s: float = GRACE_S,
    ) -> None:
        self.store = store
        self.emit = emit
        self.grace_s = grace_s
        self._aborted: dict[int, _Aborted] = {}  # round id -> its pending summary

    def saved(self, rnd: Round, now: float) -> None:
        """``rnd`` was saved in a new state: its line, and, aborted while computing (its
        contributions frozen), the summary once its members have reported."""
        log.info("round %d: %s %s", rnd.round_id, rnd.phase, rnd.reason)
        if rnd.phase is not Phase.ABORTED or not rnd.contributors:
            return
        due = min(now + self.grace_s, max(rnd.deadline, now))
        pending = self._aborted[rnd.round_id] = _Aborted(rnd, since=now, due=due)
        for member, result in self.store.results(rnd.round_id).items():
            if member in rnd.committee:
                pending.reports[member] = result
        self._summarise_if(pending, now)

    def reported(self, rnd: Round | None, result: MemberResult, now: float) -> None:
        """A member's result or failure report came for round ``rnd`` (as the store holds
        it, before the report is admitted): a late failure's own line, and its place in the
        round's summary."""
        if late := late_failure(rnd, result):
            log.warning("%s", late)  # refused by the caller: each member's reason in the log
        pending = self._aborted.get(result.round_id)
        if pending is None or result.member not in pending.round.committee:
            return
        pending.reports.setdefault(result.member, result)  # its first report
        self._summarise_if(pending, now)

    def summarise_due(self, now: float) -> None:
        """Log the summary of every aborted round whose grace has passed."""
        for pending in [p for p in self._aborted.values() if now >= p.due]:
            self._summarise_if(pending, now)

    def _summarise_if(self, pending: _Aborted, now: float) -> None:
        """Log ``pending``'s summary (and forget it) once complete or due."""
        if not (pending.complete() or now >= pending.due):
            return
        rnd, reports = pending.round, pending.reports
        del self._aborted[rnd.round_id]
        silent = f": no report ({now - pending.since:.0f} s after the abort)"
        said = [f"{m} {_report(reports[m])}" if m in reports else m + silent for m in rnd.committee]
        log.warning(
            "round %d aborted (%s); its members: %s", rnd.round_id, rnd.reason, "; ".join(said)
        )
        self.emit("abort_summary", **_fields(rnd, reports))


def _fields(rnd: Round, reports: dict[str, MemberResult]) -> dict[str, Any]:
    """The ``abort_summary`` event's fields (module docstring)."""
    return {
        "round_id": rnd.round_id,
        "reason": rnd.reason,
        "failed": {m: r.reason[:QUOTED] for m, r in reports.items() if not r.ok},
        "returned": [m for m in rnd.committee if m in reports and reports[m].ok],
        "silent": [m for m in rnd.committee if m not in reports],
    }
