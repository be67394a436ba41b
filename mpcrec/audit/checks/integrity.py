"""Integrity checks: the file's sequence, every signature, pinned keys, the Merkle heads."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from mpcrec.audit import merkle
from mpcrec.audit.entries import LAUNCHER, LogEntry, TreeHead
from mpcrec.audit.history import Finding, History
from mpcrec.audit.signatures import verify_all

#: Verifies many ``(raw public key, signature, message)`` triples at once (maybe in parallel).
BatchVerifier = Callable[[Sequence[tuple[bytes, bytes, bytes]]], list[bool]]

#: Verify in this process.
serial_verifier: BatchVerifier = verify_all


def check_sequence(entries: Sequence[LogEntry]) -> list[Finding]:
    """Entry ``i`` of the file carries index ``i``: catches deleted, inserted, swapped lines.

    Only the first break is reported: every later index is off for the same cause.
    """
    present = {entry.index for entry in entries}
    for position, entry in enumerate(entries):
        if entry.index == position:
            continue
        if position not in present:
            why = f"entry {position} was deleted"
        elif entry.index > position:
            why = f"entry {position} comes later in the file: entries were reordered"
        else:
            why = f"entry {entry.index} was already seen: entries were reordered or repeated"
        return [
            Finding(
                "sequence",
                position,
                f"the {position}th entry of the file carries index {entry.index}: {why}",
            )
        ]
    return []


def signature_batch(
    entries: Sequence[LogEntry], keys: Mapping[str, bytes]
) -> tuple[list[tuple[bytes, LogEntry]], list[Finding]]:
    """``(author's raw key, entry)`` for every entry whose author has a key; the others as
    findings."""
    pairs: list[tuple[bytes, LogEntry]] = []
    out: list[Finding] = []
    for entry in entries:
        key = keys.get(entry.author)
        if key is None:
            out.append(
                Finding(
                    "signature", entry.index, f"{entry.kind} by unknown author {entry.author!r}"
                )
            )
            continue
        pairs.append((key, entry))
    return pairs, out


def signature_findings(
    pairs: Sequence[tuple[bytes, LogEntry]], results: Sequence[bool], keys: Mapping[str, bytes]
) -> list[Finding]:
    """Findings for the entries whose signature failed; names the real signer if known."""
    out: list[Finding] = []
    for (_, entry), ok in zip(pairs, results, strict=True):
        if ok:
            continue
        message = entry.signed_bytes()
        others = [
            who
            for who, key in keys.items()
            if who != entry.author and verify_all([(key, entry.signature, message)])[0]
        ]
        signer = f"; it is signed by {others[0]}'s key instead" if others else ""
        out.append(
            Finding(
                "signature",
                entry.index,
                f"{entry.kind} for round {entry.round}: not signed by its author "
                f"{entry.author}'s key{signer} (or the entry was altered)",
            )
        )
    return out


def check_signatures(
    entries: Sequence[LogEntry],
    keys: Mapping[str, bytes],
    *,
    verifier: BatchVerifier = serial_verifier,
) -> list[Finding]:
    """Every entry verifies under its author's key (``keys``: author id -> raw key).

    For an entry that fails, the other known keys are tried, to name who really signed it.
    """
    pairs, out = signature_batch(entries, keys)
    results = verifier([(key, e.signature, e.signed_bytes()) for key, e in pairs])
    return out + signature_findings(pairs, results, keys)


def check_pinned_keys(history: History, pinned: Mapping[str, bytes]) -> list[Finding]:
    """Registered keys (and the launcher's) equal the keys the auditor got out of band."""
    out: list[Finding] = []
    registry = history.signing_keys()
    for instance, entry in history.registrations.items():
        registered = registry.get(instance)
        if instance in pinned and registered != pinned[instance]:
            out.append(
                Finding("key", entry.index, f"{instance} registered another key than pinned")
            )
        elif instance not in pinned:
            out.append(Finding("key", entry.index, f"{instance} is not in the auditor's key file"))
    launcher = history.launcher_key()
    if LAUNCHER in pinned and history.configs and launcher != pinned[LAUNCHER]:
        out.append(
            Finding(
                "key", history.configs[0].index, "config names another launcher key than pinned"
            )
        )
    return out


def _roots_at(entries: Sequence[LogEntry], sizes: set[int]) -> dict[int, bytes]:
    """The Merkle root over the first ``n`` entries, for each ``n`` in ``sizes`` covered."""
    roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT} if 0 in sizes else {}
    acc = merkle.RootAccumulator()
    for entry in entries:
        acc.append(merkle.leaf_hash(entry.leaf_bytes()))
        if acc.size in sizes:
            roots[acc.size] = acc.root()
    return roots


def _fork_finding(where: str, head: TreeHead) -> Finding:
    why = (
        f"{where}: the launcher signed another history than the one another signed head "
        "covers (two inconsistent heads)"
    )
    return Finding("fork", head.size - 1, why)


def _altered_finding(where: str, head: TreeHead, last_good: int) -> Finding:
    why = (
        f"{where}: root does not match entries 0..{head.size - 1}: one of entries "
        f"{last_good}..{head.size - 1} was altered, removed or reordered after the launcher "
        "signed this head"
    )
    return Finding("tree", head.size - 1, why)


def _uncovered_finding(entries: Sequence[LogEntry], last_size: int) -> list[Finding]:
    """The log's own last head must cover every entry."""
    if last_size >= len(entries):
        return []
    why = f"the last {len(entries) - last_size} entries are not covered by any signed tree head"
    return [Finding("tree", len(entries) - 1, why)]


def check_tree(
    entries: Sequence[LogEntry], heads: Sequence[tuple[str, TreeHead]], launcher_key: bytes | None
) -> list[Finding]:
    """Every signed head (``(where, head)``, e.g. ``("line 12", head)``) matches the Merkle
    root of the entries it covers.

    A head that does not match while another signed head of at least its size matches means
    the launcher signed two histories: a ``fork``. Otherwise the entries changed after
    signing (or the launcher signed a head over entries it never exported): ``tree``.
    """
    roots = _roots_at(entries, {h.size for _, h in heads})
    signed = verify_all([(launcher_key or b"", h.signature, h.signed_bytes()) for _, h in heads])
    matching = [
        ok and roots.get(h.size) == h.root for (_, h), ok in zip(heads, signed, strict=True)
    ]
    out: list[Finding] = []
    last_good, mismatched = 0, 0
    largest: dict[str, int] = {}  # per source file: heads only grow within one file
    for n, (line, head) in enumerate(heads):
        where = f"tree head at {line} (size {head.size})"
        if not signed[n]:
            out.append(Finding("tree", None, f"{where}: not signed by the launcher key"))
            continue
        source = line.rsplit("line ", 1)[0]
        if head.size < largest.get(source, 0):
            out.append(Finding("tree", None, f"{where}: smaller than an earlier head"))
        largest[source] = max(largest.get(source, 0), head.size)
        if head.size not in roots:
            out.append(Finding("tree", None, f"{where}: covers more entries than the log holds"))
        elif matching[n]:
            last_good = max(last_good, head.size)
        elif any(matching[j] and heads[j][1].size >= head.size for j in range(len(heads))):
            out.append(_fork_finding(where, head))
        elif (mismatched := mismatched + 1) == 1:
            out.append(_altered_finding(where, head, last_good))
    if mismatched > 1:
        out.append(Finding("tree", None, f"{mismatched - 1} later heads do not match either"))
    return out + (_uncovered_finding(entries, largest.get("", 0)) if heads else [])
