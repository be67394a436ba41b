"""What must hold after any fault: pure checks over the exported log and the launcher's store.

Each check takes the replayed log (:func:`mpcrec.audit.history.replay`) and a
:class:`StoreView` (what the launcher's store holds), and returns violations as sentences
(empty: the invariant holds). The auditor's own rules (:mod:`mpcrec.audit.checks`) already
judge the log alone (versions, member signatures, contribution accounting, the budget);
these add what only the store and the nodes can say: that the store and the log tell the
same story, and that nothing a node was told was accepted went missing.

1. ``versions``: the store's rounds start from the latest published version, each publish
   moves it by exactly one, and the store holds every version ``0..N`` once.
2. ``signed_model``: every model the store publishes has the hash of the log's ``publish``
   entry, which every member signed in its result.
3. ``contributions``: every contribution a node was acknowledged is in the store, the store
   and the log hold the same contributions per round, a frozen round counts each of them
   exactly once, and a published result accounts for exactly the frozen set.
4. ``epsilon``: every round whose result a member revealed to the launcher (an ok result in
   the store) is a round the log's signed results count in ε, and the ε an auditor computes
   is that of exactly those rounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from launch.round import Phase, Round
from mpcrec.audit.checks import check_budget
from mpcrec.audit.history import History, RoundRecord
from mpcrec.audit.schema import hex_map
from mpcrec.privacy.accountant import RDP
from mpcrec.privacy.budget import epsilon_spent, signed_mechanism


@dataclass(frozen=True)
class StoreView:
    """What the launcher's store holds, read after a fault.

    Attributes
    ----------
    rounds:
        Every stored round, by id.
    models:
        Published model version -> its hash (hex).
    contributions:
        Round id -> the contributors whose uploads the store holds.
    revealed:
        Rounds with at least one ok member result stored (the launcher saw the model).
    """

    rounds: tuple[Round, ...]
    models: Mapping[int, str]
    contributions: Mapping[int, frozenset[str]]
    revealed: frozenset[int]


def check_versions(store: StoreView) -> list[str]:
    """Invariant 1 (the log's side is the auditor's rule ``version``)."""
    out: list[str] = []
    version = 0
    for rnd in store.rounds:
        if rnd.model_version != version:
            out.append(f"round {rnd.round_id} starts from v{rnd.model_version}, latest v{version}")
        if rnd.phase is Phase.PUBLISHED:
            if rnd.published_version != rnd.model_version + 1:
                out.append(f"round {rnd.round_id} published v{rnd.published_version}")
            version = rnd.published_version
    if sorted(store.models) != list(range(version + 1)):
        out.append(f"stored model versions {sorted(store.models)}, expected 0..{version}")
    return out


def _records(history: History) -> dict[int, RoundRecord]:
    return {record.round_id: record for record in history.rounds}


def check_signed_model(store: StoreView, history: History) -> list[str]:
    """Invariant 2."""
    out: list[str] = []
    records = _records(history)
    for rnd in store.rounds:
        if rnd.phase is not Phase.PUBLISHED:
            continue
        record = records.get(rnd.round_id)
        if record is None or record.published is None:
            out.append(f"round {rnd.round_id} is published in the store, not in the log")
            continue
        stored = store.models.get(rnd.published_version)
        if stored != record.published.payload.get("model_hash"):
            out.append(f"round {rnd.round_id}: the stored v{rnd.published_version} is not logged")
        for member in rnd.committee:
            entry = record.signatures.get(member)
            signed = entry.payload.get("result", {}).get("model_hash") if entry else None
            if signed != stored:
                out.append(f"round {rnd.round_id}: {member} did not sign the published model")
    return out


def check_contributions(
    store: StoreView, history: History, acknowledged: Sequence[tuple[int, str]]
) -> list[str]:
    """Invariant 3; ``acknowledged``: ``(round, instance)`` of every upload a node was
    told the launcher accepted."""
    out: list[str] = []
    records = _records(history)
    for round_id, instance in sorted(set(acknowledged)):
        if instance not in store.contributions.get(round_id, frozenset()):
            out.append(f"round {round_id}: the acknowledged upload of {instance} is lost")
    for rnd in store.rounds:
        stored = store.contributions.get(rnd.round_id, frozenset())
        record = records.get(rnd.round_id)
        logged = set(record.contributions) if record else set()
        if logged != stored:
            out.append(f"round {rnd.round_id}: log {sorted(logged)} != store {sorted(stored)}")
        frozen = rnd.contributors
        if len(set(frozen)) != len(frozen):
            out.append(f"round {rnd.round_id}: a contribution is frozen twice: {list(frozen)}")
        if frozen and set(frozen) != stored:
            out.append(f"round {rnd.round_id}: froze {list(frozen)} of {sorted(stored)}")
        if rnd.phase is Phase.PUBLISHED and record is not None and record.signatures:
            result = next(iter(record.signatures.values())).payload.get("result", {})
            counted = set(hex_map(result.get("accepted"))) | set(hex_map(result.get("rejected")))
            if counted != set(frozen):
                out.append(f"round {rnd.round_id}: the result counts {sorted(counted)}")
    return out


def check_epsilon(store: StoreView, history: History) -> list[str]:
    """Invariant 4."""
    signed = {r.round_id: r for r in history.rounds if r.signatures}
    out = [
        f"round {rid}: a member's result reached the launcher, the log counts no ε for it"
        for rid in sorted(store.revealed - set(signed))
    ]
    _, epsilon = check_budget(history)
    if signed:
        first = next(iter(next(iter(signed.values())).signatures.values()))
        mechanism = signed_mechanism(first.payload["result"])
        delta = float(history.rounds[-1].setting("delta", 1e-5))
        accountant = str(list(signed.values())[-1].setting("accountant", RDP))  # as the log's
        rounds = [mechanism] * len(store.revealed | set(signed))
        expected = epsilon_spent(rounds, delta=delta, accountant=accountant)
        if not (epsilon == expected or math.isclose(epsilon, expected, rel_tol=1e-9)):
            out.append(f"the log's ε {epsilon} is not that of {len(signed)} revealed rounds")
    return out


def violations(
    store: StoreView, history: History, acknowledged: Sequence[tuple[int, str]]
) -> dict[str, list[str]]:
    """Every invariant's violations, by name (each list empty when it holds)."""
    return {
        "versions": check_versions(store),
        "signed_model": check_signed_model(store, history),
        "contributions": check_contributions(store, history, acknowledged),
        "epsilon": check_epsilon(store, history),
    }
