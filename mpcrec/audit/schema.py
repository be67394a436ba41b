"""The shape of each entry kind's payload, checked before any rule looks at it.

A payload that does not match (a missing field, a wrong type, hex of the wrong length) is a
``format`` finding and the entry takes no further part in the replay, so the checks can rely
on well-formed values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mpcrec.audit.entries import Kind, LogEntry

Field = Callable[[Any], bool]


def _int(minimum: int = 0) -> Field:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _number(low: float, high: float) -> Field:
    return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and low <= v <= high


def _hex32(v: Any) -> bool:
    if not isinstance(v, str) or len(v) != 64:
        return False
    try:
        bytes.fromhex(v)
    except ValueError:
        return False
    return v == v.lower()


def _hex(v: Any) -> bool:
    try:
        return isinstance(v, str) and len(v) % 2 == 0 and v == bytes.fromhex(v).hex()
    except ValueError:
        return False


def _text(v: Any) -> bool:
    return isinstance(v, str)


def _ids(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(i, str) and i for i in v)


def _hex_map(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and _hex32(x) for k, x in v.items())


def _optional_budget(v: Any) -> bool:
    return v is None or _number(0.0, 1e9)(v)


def _optional_text(v: Any) -> bool:
    return v is None or (isinstance(v, str) and bool(v))


def _weight_map(v: Any) -> bool:
    weight = _number(0.0, 1e300)
    return isinstance(v, dict) and all(isinstance(k, str) and weight(x) for k, x in v.items())


_RESULT: Mapping[str, Field] = {
    "round": _int(),
    "model_version": _int(1),
    "model_hash": _hex32,
    "accepted": _hex_map,
    "rejected": _hex_map,
    "noise_multiplier": _number(0.0, 1e9),
    "sample_rate": _number(0.0, 1.0),
    "params_hash": _hex32,
    "weights": _weight_map,
    "sensitivity": _text,
}

#: The round parameters a config entry states (mpcrec.federation.round_params.RoundParams).
_PARAMS: Mapping[str, Field] = {
    "aggregation": _text,
    "clip_norm": _number(0.0, 1e300),
    "range_bound": _number(0.0, 1e300),
    "noise_multiplier": _number(0.0, 1e9),
    "min_contributors": _int(1),
    "committee_size": _int(1),
    "server_lr": _number(0.0, 1e300),
    "server_momentum": _number(0.0, 1.0),
    "max_weight": _number(0.0, 1e300),
    "sensitivity": _text,
}


#: The user-level round parameters, present only under ``sensitivity: user``.
_USER_PARAMS: Mapping[str, Field] = {
    "user_clip_norm": _number(0.0, 1e300),
    "user_rate": _number(0.0, 1.0),
}

#: The model kind, present only when not ``"mf"``, a ``dpals`` count release's
#: multiplier, present only when not 0, and a ``seqrec`` Gram release's settings, present
#: only when its slice size is set (RoundParams.to_json).
_MODEL_PARAMS: Mapping[str, Field] = {
    "model": _text,
    "count_noise_multiplier": _number(0.0, 1e9),
    "ease_lambda": _number(0.0, 1e300),
    "ease_weight": _number(0.0, 1.0),
    "ease_clip_counts": _number(0.0, 2.0**31),
    "ease_slice_values": _number(0.0, 2.0**27),
}


def _params(v: Any) -> bool:
    optional = {**_USER_PARAMS, **_MODEL_PARAMS}
    return isinstance(v, dict) and _fields_ok(v, _PARAMS, optional) is None


#: A result naming its contributions by digest (mpcrec.audit.result_contributions).
_COMPACT_RESULT: Mapping[str, Field] = {
    **{k: f for k, f in _RESULT.items() if k not in ("accepted", "rejected", "weights")},
    "contributions": _hex32,
}


def _result(v: Any) -> bool:
    """A full result (logs written before the digest) or a compact one."""
    if not isinstance(v, dict):
        return False
    schema = _COMPACT_RESULT if "contributions" in v else _RESULT
    return _fields_ok(v, schema, {"slice_hash": _hex32}) is None


SCHEMAS: Mapping[str, Mapping[str, Field]] = {
    Kind.CONFIG: {
        "launcher_key": _hex32,
        "committee_size": _int(1),
        "cooldown": _int(1),
        "min_contributors": _int(1),
        "provider": _text,
        "delta": _number(1e-300, 0.999999),
        "epsilon_budget": _optional_budget,  # null: no differential-privacy promise
        "privacy_unit": _text,
        "params": _params,
        "params_hash": _hex32,
    },
    Kind.REGISTER: {"signing_key": _hex32, "sealing_key": _hex32, "address": _text},
    Kind.SEED_COMMIT: {"commitment": _hex32, "last_round": _int()},
    Kind.ROUND_OPEN: {"model_version": _int(), "participants": _ids},
    Kind.SEED_REVEALS: {"reveals": _hex_map},
    Kind.COMMITTEE: {"seed": _hex32, "members": _ids, "dealer": _optional_text, "provider": _text},
    Kind.CONTRIBUTION: {
        "model_version": _int(),
        "digest": _hex32,
        "size": _int(),
        "weight": _number(0.0, 1e300),
        "params_hash": _hex32,
    },
    Kind.RESULT_SIGNATURE: {"result": _result},
    Kind.RESULT_CONTRIBUTIONS: {
        "accepted": _hex_map,
        "rejected": _hex_map,
        "weights": _weight_map,
    },
    Kind.PUBLISH: {"model_version": _int(1), "model_hash": _hex32},
    Kind.ABORT: {"reason": _text, "missing": _ids},
    Kind.CATALOGUE: {
        "version": _int(1),
        "previous": _hex32,
        "first_row": _int(),
        "rows": _int(),
        "new_retired": _int(),
        "retired": _int(),
        "diff": _hex32,
        "hash": _hex32,
    },
}

# A bound registration (:mod:`mpcrec.crypto.binding`) carries both; an unbound one neither.
BOUND_REGISTRATION: Mapping[str, Field] = {"certificate": _hex, "key_binding": _hex}


def _hex_of(size: int) -> Field:
    def ok(v: Any) -> bool:
        try:
            return isinstance(v, str) and v == v.lower() and len(bytes.fromhex(v)) == size
        except ValueError:
            return False

    return ok


def _shaped(schema: Mapping[str, Field], optional: Mapping[str, Field] | None = None) -> Field:
    return lambda v: isinstance(v, dict) and _fields_ok(v, schema, optional or {}) is None


_CHAIN = _shaped(
    {
        "public_key": _hex_of(48),
        "period": _int(1),
        "genesis_time": _int(),
        "hash": _hex32,
        "schemeID": _text,
    }
)
_BEACON = _shaped(
    {"round": _int(1), "randomness": _hex32, "signature": _hex_of(96)},
    {"previous_signature": _hex_of(96)},
)

#: Fields a payload may carry (the beacon's, left out when the federation has none; the
#: accountant, left out by logs written before it).
OPTIONAL: Mapping[str, Mapping[str, Field]] = {
    Kind.CONFIG: {"beacon": _CHAIN, "accountant": _text},
    Kind.ROUND_OPEN: {"beacon_round": _int(1), "catalogue_version": _int(1), "rows": _int(1)},
    Kind.COMMITTEE: {"beacon": _BEACON},
}


def _fields_ok(
    payload: Mapping[str, Any],
    schema: Mapping[str, Field],
    optional: Mapping[str, Field] | None = None,
) -> str | None:
    optional = optional or {}
    if not set(schema) <= set(payload) <= set(schema) | set(optional):
        missing = sorted(set(schema) - set(payload))
        extra = sorted(set(payload) - set(schema) - set(optional))
        return f"fields missing {missing}, unexpected {extra}"
    for name, ok in {**schema, **optional}.items():
        if name in payload and not ok(payload[name]):
            return f"field {name!r} has a malformed value {str(payload[name])[:40]!r}"
    return None


def payload_error(entry: LogEntry) -> str | None:
    """Why ``entry``'s payload (or round) is malformed, or ``None`` when it is well formed."""
    schema = SCHEMAS.get(entry.kind)
    if schema is None:
        return f"unknown entry kind {entry.kind!r}"
    if entry.kind == Kind.REGISTER:
        if entry.round is not None:
            return "a registration belongs to no round"
    elif entry.round is None or entry.round < 0:
        return f"{entry.kind} needs a round id >= 0"
    elif entry.kind == Kind.SEED_COMMIT and entry.payload.get("last_round") != entry.round:
        return "a seed commitment serves its own round only (last_round must equal round)"
    if entry.kind == Kind.REGISTER and (
        "certificate" in entry.payload or "key_binding" in entry.payload
    ):
        schema = {**schema, **BOUND_REGISTRATION}
    return _fields_ok(entry.payload, schema, OPTIONAL.get(entry.kind))


def hex_map(raw: Any) -> dict[str, bytes]:
    """``{id: hex}`` decoded to ``{id: bytes}`` (undecodable values become ``b""``)."""
    out: dict[str, bytes] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            try:
                out[str(key)] = bytes.fromhex(str(value))
            except ValueError:
                out[str(key)] = b""
    return out
