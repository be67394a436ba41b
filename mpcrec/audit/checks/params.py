"""Round parameters and weights: what every round signed against the config in force.

``params``: the config entry in force states its round parameters and their digest; every
contribution and every member's result of a round signs that digest; a result's noise
multiplier and sensitivity are the parameters'; a declared privacy budget comes with secure
aggregation. ``weights``: each member's result states, for every logged contribution of the
round, the raw weight its author signed (``0`` only for a rejected one), and no accepted
weight is outside ``(0, max_weight]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mpcrec.audit.history import Finding, History, RoundRecord
from mpcrec.audit.round_digest import params_digest


def _config_findings(record: RoundRecord) -> tuple[list[Finding], str | None]:
    """Findings on the config in force, and its params digest (hex) when usable."""
    config = record.config
    if config is None:
        return [], None
    params, digest = config.payload.get("params"), config.payload.get("params_hash")
    if not isinstance(params, dict) or not isinstance(digest, str):
        why = f"round {record.round_id}: the config in force states no round parameters"
        return [Finding("params", config.index, why)], None
    try:
        computed = params_digest(params).hex()
    except (TypeError, ValueError):
        computed = ""
    if computed != digest:
        why = f"round {record.round_id}: the config's params_hash is not its parameters' digest"
        return [Finding("params", config.index, why)], None
    out: list[Finding] = []
    if config.payload.get("epsilon_budget") is not None and params.get("aggregation") != "secure":
        why = (
            f"round {record.round_id}: a privacy budget with aggregation "
            f"{params.get('aggregation')!r} (members see every update)"
        )
        out.append(Finding("params", config.index, why))
    return out, digest


def _result_of(entry: Any) -> Mapping[str, Any]:
    result = entry.payload.get("result", {})
    return result if isinstance(result, dict) else {}


def check_params(history: History) -> list[Finding]:
    """Every contribution and result of a round signs the round parameters of the config in
    force (the module docstring has the rule)."""
    out: list[Finding] = []
    seen_configs: set[int] = set()
    for record in history.rounds:
        found, digest = _config_findings(record)
        if record.config is not None and record.config.index not in seen_configs:
            seen_configs.add(record.config.index)
            out += found
        if digest is None:
            continue
        params = dict(record.setting("params", {}))
        r = record.round_id
        for instance, entry in record.contributions.items():
            if entry.payload.get("params_hash") != digest:
                why = f"round {r}: {instance} contributed under other round parameters"
                out.append(Finding("params", entry.index, why))
        for member, entry in record.signatures.items():
            result = _result_of(entry)
            same = (
                result.get("params_hash") == digest
                and result.get("noise_multiplier") == round_noise_multiplier(params, result)
                and result.get("sensitivity") == params.get("sensitivity")
            )
            if not same:
                why = f"round {r}: {member} signed a result under other round parameters"
                out.append(Finding("params", entry.index, why))
    return out


def round_noise_multiplier(params: Mapping[str, Any], result: Mapping[str, Any]) -> Any:
    """The ``z`` a round's result must sign under ``params``: a ``dpals`` count release's
    (``count_noise_multiplier``, the round that made model version 1) when they have one,
    their ``noise_multiplier`` otherwise."""
    count = params.get("count_noise_multiplier")
    if count and result.get("model_version") == 1:
        return count
    return params.get("noise_multiplier")


def _weight_findings(record: RoundRecord, member: str, entry: Any) -> list[Finding]:
    result, r = _result_of(entry), record.round_id
    used = result.get("weights")
    if not isinstance(used, dict):
        return [Finding("weights", entry.index, f"round {r}: {member} signed no weights")]
    rejected = result.get("rejected") or {}
    max_weight = float(dict(record.setting("params", {})).get("max_weight", math.inf))
    out: list[Finding] = []
    for instance, contribution in record.contributions.items():
        signed, weight = contribution.payload.get("weight"), used.get(instance)
        if weight == 0 and instance in rejected:
            continue
        if weight != signed:
            why = (
                f"round {r}: {member} used weight {weight!r} for {instance}, "
                f"which signed {signed!r}"
            )
            out.append(Finding("weights", entry.index, why))
        elif not (isinstance(signed, (int, float)) and 0 < signed <= max_weight):
            why = f"round {r}: {instance}'s weight {signed!r} is outside (0, {max_weight:g}]"
            out.append(Finding("weights", contribution.index, why))
    strangers = sorted(set(used) - set(record.contributions))
    if strangers:
        why = f"round {r}: {member} weighted contributions never logged: {strangers}"
        out.append(Finding("weights", entry.index, why))
    return out


def check_weights(history: History) -> list[Finding]:
    """Each member's weights are the contributors' signed weights (module docstring)."""
    out: list[Finding] = []
    for record in history.rounds:
        for member, entry in record.signatures.items():
            out += _weight_findings(record, member, entry)
    return out
