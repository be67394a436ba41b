"""Whether anyone could have chosen a committee: the beacon, and aborts after a draw.

*Beacon* (rule ``beacon``). A config entry that names a beacon chain (drand's ``/info``
fields) binds every round from its ``from_round`` on: the round's ``round_open`` names a
``beacon_round`` greater than every earlier round's (a value already out serves no round),
and its ``committee`` entry carries that round's beacon, whose BLS signature verifies under
the chain's public key (:func:`mpcrec.crypto.beacon.beacon_error`). The ``seed`` rule then
recomputes the committee seed from the reveals and that beacon. An auditor who pins a chain
(the key file's ``beacon``) also gets a finding when the log declares another chain or none.

*Aborts after the draw* (rule ``post_draw_abort``). Once a committee is drawn, an abort is
a redraw: a launcher that aborts whenever it dislikes the committee grinds the sortition.
An abort after the ``committee`` entry is allowed only for a reason the log bears out:

1. the collecting deadline passed with too few contributions: the abort's reason is the
   launcher's ``only N contributions, M needed`` with ``N`` the number of contributions
   logged for the round, ``N < min_contributors``, and no member signed a result, or
2. the members' logged result signatures disagree, or accept fewer than
   ``min_contributors`` contributions.

Every other post-draw abort is named, also one blamed on a silent or failed member: the log
holds no signed failure, so it cannot tell a crash from a launcher's redraw.

*Bias bound* (:func:`draw_bias`). With at most ``j`` post-draw aborts in a row, a launcher
saw at most ``j + 1`` committees for each one that served; any property of a committee that a
fair draw has with probability ``p`` (say, a colluding majority) then holds for the served
committee with probability at most ``1 - (1 - p)^(j + 1) <= (j + 1) p``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpcrec.audit.history import Finding, History, RoundRecord
from mpcrec.crypto.beacon import Beacon, BeaconError, ChainInfo, beacon_error


def _chain(raw: Any) -> ChainInfo | None:
    try:
        return ChainInfo.from_json(raw) if isinstance(raw, Mapping) else None
    except BeaconError:
        return None


def _pin_findings(history: History, pinned: ChainInfo | None) -> list[Finding]:
    """Each config entry declares the pinned chain (when the auditor pinned one)."""
    if pinned is None:
        return []
    out: list[Finding] = []
    for entry in history.configs:
        declared = _chain(entry.payload.get("beacon"))
        if declared is None:
            out.append(Finding("beacon", entry.index, "the config declares no beacon chain"))
        elif (declared.public_key, declared.scheme) != (pinned.public_key, pinned.scheme):
            why = "the config's beacon chain is not the pinned chain"
            out.append(Finding("beacon", entry.index, why))
    return out


def _round_findings(record: RoundRecord, chain: ChainInfo, last: int) -> list[Finding]:
    """The round names a fresh beacon round; its committee carries that beacon, verified."""
    r, opened = record.round_id, record.opened
    bound = opened.payload.get("beacon_round")
    if not isinstance(bound, int):
        return [Finding("beacon", opened.index, f"round {r} opened without a beacon round")]
    out: list[Finding] = []
    if bound <= last:
        why = f"round {r}: beacon round {bound} is not after the previous rounds' ({last})"
        out.append(Finding("beacon", opened.index, why))
    if record.committee is None:
        return out
    raw = record.committee.payload.get("beacon")
    if not isinstance(raw, Mapping):
        return [
            *out,
            Finding("beacon", record.committee.index, f"round {r}: drawn without its beacon"),
        ]
    try:
        beacon = Beacon.from_json(raw)
        why = beacon_error(chain, beacon, round_number=bound)
    except BeaconError as err:
        why = err.message
    if why:
        out.append(Finding("beacon", record.committee.index, f"round {r}: {why}"))
    return out


def check_beacons(history: History, pinned: ChainInfo | None = None) -> list[Finding]:
    """Rounds under a declared (or pinned) beacon chain are bound to, and drawn with, a
    verified beacon round of it (module docstring)."""
    out = _pin_findings(history, pinned)
    last = 0
    for record in history.rounds:
        declared = _chain(record.setting("beacon", None))
        chain = pinned or declared
        if chain is None:
            continue
        out += _round_findings(record, chain, last)
        bound = record.opened.payload.get("beacon_round")
        last = max(last, bound) if isinstance(bound, int) else last
    return out


def _explained(record: RoundRecord) -> bool:
    """Whether the log bears out an abort after the draw (module docstring)."""
    needed = int(record.setting("min_contributors", 1))
    if not record.signatures:
        assert record.aborted is not None
        count = len(record.contributions)
        claimed = str(record.aborted.payload.get("reason", ""))
        return count < needed and claimed.startswith(f"only {count} contributions,")
    results = [e.payload.get("result", {}) for e in record.signatures.values()]
    if len({repr(sorted(v.items())) for v in results}) > 1:
        return True
    return any(len(v.get("accepted", {})) < needed for v in results)


def post_draw_aborts(history: History) -> list[RoundRecord]:
    """Rounds that aborted after their committee was drawn, in log order."""
    return [r for r in history.rounds if r.committee is not None and r.aborted is not None]


def check_post_draw_aborts(history: History) -> list[Finding]:
    """Every abort after a draw has a reason the log bears out (module docstring)."""
    out: list[Finding] = []
    for record in post_draw_aborts(history):
        if _explained(record):
            continue
        assert record.aborted is not None
        reason = str(record.aborted.payload.get("reason", ""))
        why = (
            f"round {record.round_id} aborted after its committee was drawn ({reason!r}) and "
            f"the log does not bear the reason out: {len(record.contributions)} contributions "
            f"logged, {len(record.signatures)} member signatures; a redraw the launcher could "
            "have chosen"
        )
        out.append(Finding("post_draw_abort", record.aborted.index, why))
    return out


def draw_bias(history: History) -> dict[str, Any]:
    """How much the aborts after draws could have shifted committee membership."""
    drawn = [r for r in history.rounds if r.committee is not None]
    aborted = {r.round_id for r in post_draw_aborts(history)}
    run = longest = 0
    for record in drawn:
        run = run + 1 if record.round_id in aborted else 0
        longest = max(longest, run)
    unexplained = len(check_post_draw_aborts(history))
    beacon = _chain(history.configs[-1].payload.get("beacon")) if history.configs else None
    return {
        "drawn": len(drawn),
        "post_draw_aborts": len(aborted),
        "unexplained_post_draw_aborts": unexplained,
        "max_redraws": longest,
        "beacon": beacon.chain_hash.hex() if beacon else None,
        "bias": (
            f"{len(aborted)} of {len(drawn)} drawn committees aborted after the draw "
            f"({unexplained} unexplained); at most {longest + 1} committees seen per served one: "
            f"a committee property of probability p holds with probability <= "
            f"1-(1-p)^{longest + 1}"
        ),
    }
