"""A round's record as the SQLite store keeps it: one JSON text per round (list fields as
JSON lists), so a transition is one row written."""

from __future__ import annotations

import json
from typing import Any

from launch.round import Phase, Round


def round_to_json(rnd: Round) -> str:
    """The record of ``rnd``."""
    return json.dumps(
        {
            "round_id": rnd.round_id,
            "model_version": rnd.model_version,
            "phase": rnd.phase.value,
            "deadline": rnd.deadline,
            "participants": list(rnd.participants),
            "seed": rnd.seed.hex(),
            "committee": list(rnd.committee),
            "dealer": rnd.dealer,
            "contributors": list(rnd.contributors),
            "weights": list(rnd.weights),
            "reason": rnd.reason,
            "published_version": rnd.published_version,
            "beacon_round": rnd.beacon_round,
            "beacon_at": rnd.beacon_at,
            "beacon_signature": rnd.beacon_signature.hex(),
            "beacon_previous": rnd.beacon_previous.hex(),
        }
    )


def round_from_json(text: str) -> Round:
    """The round a record holds."""
    d: dict[str, Any] = json.loads(text)
    return Round(
        round_id=int(d["round_id"]),
        model_version=int(d["model_version"]),
        phase=Phase(d["phase"]),
        deadline=float(d["deadline"]),
        participants=tuple(d["participants"]),
        seed=bytes.fromhex(d["seed"]),
        committee=tuple(d["committee"]),
        dealer=str(d["dealer"]),
        contributors=tuple(d["contributors"]),
        weights=tuple(float(w) for w in d["weights"]),
        reason=str(d["reason"]),
        published_version=int(d["published_version"]),
        beacon_round=int(d.get("beacon_round", 0)),
        beacon_at=float(d.get("beacon_at", 0.0)),
        beacon_signature=bytes.fromhex(d.get("beacon_signature", "")),
        beacon_previous=bytes.fromhex(d.get("beacon_previous", "")),
    )
