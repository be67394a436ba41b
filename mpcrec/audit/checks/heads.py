"""Heads from outside the log: the nodes' cosigned heads (``heads``) and head times
(``head_time``).

A log verified alone proves only that the launcher signed it; the launcher may have shown
other nodes another history. ``mpcrec audit verify --heads DIR --require-heads t`` takes the
heads nodes cosigned (:mod:`mpcrec.audit.witness`): each must be signed by the launcher,
cosigned by a registered instance, and match the log (the ``tree`` and ``fork`` rules judge
the match, over the same heads); at least ``t`` distinct nodes' heads must pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mpcrec.audit import merkle
from mpcrec.audit.entries import LogEntry, TreeHead
from mpcrec.audit.history import Finding
from mpcrec.audit.signatures import verify_all
from mpcrec.audit.witness import WitnessedHead


def _root(entries: Sequence[LogEntry], size: int) -> bytes | None:
    if size > len(entries):
        return None
    return merkle.root([merkle.leaf_hash(e.leaf_bytes()) for e in entries[:size]])


def check_witnesses(
    entries: Sequence[LogEntry],
    witnesses: Sequence[tuple[str, WitnessedHead]],
    keys: Mapping[str, bytes],
    launcher_key: bytes | None,
    *,
    required: int = 0,
) -> list[Finding]:
    """Every witnessed head (``(where, head)``) is cosigned by its node's key (``keys``) and
    matches the log; ``required`` distinct nodes' heads do.

    Examples
    --------
    >>> check_witnesses([], [], {}, None, required=1)[0].message
    'heads from 0 distinct nodes match the log; 1 required (--require-heads)'
    """
    out: list[Finding] = []
    good: set[str] = set()
    roots: dict[int, bytes | None] = {}
    for where, witnessed in witnesses:
        head, who = witnessed.head, witnessed.witness
        key = keys.get(who)
        launcher_signed = verify_all([(launcher_key or b"", head.signature, head.signed_bytes())])
        if key is None:
            out.append(Finding("heads", None, f"{where}: {who!r} is not a registered instance"))
        elif not witnessed.verify(key):
            out.append(Finding("heads", None, f"{where}: not cosigned by {who}'s key"))
        elif not launcher_signed[0]:
            out.append(Finding("heads", None, f"{where}: not signed by the launcher key"))
        else:
            if head.size not in roots:
                roots[head.size] = _root(entries, head.size)
            if roots[head.size] == head.root:
                good.add(who)
    if len(good) < required:
        out.append(
            Finding(
                "heads",
                None,
                f"heads from {len(good)} distinct nodes match the log; {required} required "
                "(--require-heads)",
            )
        )
    return out


def check_head_times(
    heads: Sequence[tuple[str, TreeHead]], *, now_ms: int | None = None, max_age_s: float = 0
) -> list[Finding]:
    """Signed head times grow with their size; with ``max_age_s`` the largest head is timed
    and at most that old at ``now_ms`` (a stale log: the launcher stopped signing, or hides
    what it signed since).

    Examples
    --------
    >>> old, new = TreeHead(1, b"", timestamp=5000), TreeHead(2, b"", timestamp=4000)
    >>> [f.message for f in check_head_times([("a", old), ("b", new)])]
    ['b: signed at 4000 ms, before the smaller head at a (5000 ms)']
    """
    out: list[Finding] = []
    timed = sorted(
        ((h.size, h.timestamp, where) for where, h in heads if h.timestamp is not None),
        key=lambda t: (t[0], t[1]),
    )
    latest: tuple[int, str] | None = None  # (time, where) of the largest head so far
    for _size, stamp, where in timed:
        if latest is not None and stamp < latest[0]:
            why = f"{where}: signed at {stamp} ms, before the smaller head at {latest[1]} "
            out.append(Finding("head_time", None, why + f"({latest[0]} ms)"))
        elif latest is None or stamp > latest[0]:
            latest = (stamp, where)
    if max_age_s and heads:
        where, largest = max(heads, key=lambda wh: wh[1].size)
        if largest.timestamp is None:
            out.append(Finding("head_time", None, f"{where}: the largest head carries no time"))
        elif now_ms is not None and now_ms - largest.timestamp > max_age_s * 1000:
            age = (now_ms - largest.timestamp) / 1000
            why = f"{where}: the largest head is {age:.0f} s old (more than {max_age_s:g} s)"
            out.append(Finding("head_time", None, why))
    return out
