"""Merge one-seed ``mpcrec bench quality`` reports (same code, same options) into one.

    python benchmarks/merge_seed_reports.py OUT.json seed0.json seed1.json ...

The methods' metrics become the mean and (population) standard deviation over the seeds,
as ``mpcrec bench quality`` computes them in a single run; each seed's report is kept
whole under ``per_seed_reports``. Used when the seeds ran as parallel processes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report: seeds concatenated, every method's metrics averaged over the seeds."""
    methods = list(reports[0]["methods"])
    if any(list(r["methods"]) != methods for r in reports):
        raise SystemExit("the reports do not have the same methods")
    summary: dict[str, dict[str, float]] = {}
    for name in methods:
        keys = [k for k in reports[0]["methods"][name] if not k.endswith("_std")]
        summary[name] = {}
        for key in keys:
            values = [float(r["methods"][name][key]) for r in reports]
            summary[name][key] = float(np.mean(values))
            summary[name][f"{key}_std"] = float(np.std(values))
    head = {k: v for k, v in reports[0].items() if k not in ("methods", "seeds")}
    seeds = [s for r in reports for s in r["seeds"]]
    curve = [
        _mean_point([r["privacy_utility"][k] for r in reports])
        for k in range(len(head.get("privacy_utility", [])))
    ]
    return {
        **head,
        "seeds": seeds,
        "methods": summary,
        "privacy_utility": curve,
        "per_seed_reports": reports,
    }


def _mean_point(points: list[dict[str, Any]]) -> dict[str, Any]:
    """One curve point (same method and ε in every report) averaged over the seeds."""
    if len({(p["method"], p["target_epsilon"]) for p in points}) != 1:
        raise SystemExit("the reports' curves do not have the same points")
    out: dict[str, Any] = {"method": points[0]["method"], "delta": points[0]["delta"]}
    out["target_epsilon"] = points[0]["target_epsilon"]
    for key in points[0]:
        if key in out or key.endswith("_std"):
            continue
        values = [float(p[key]) for p in points]
        out[key] = float(np.mean(values))
        out[f"{key}_std"] = float(np.std(values))
    return out


def main(argv: list[str]) -> int:
    """Write ``argv[0]`` from the reports ``argv[1:]``."""
    if len(argv) < 2:
        raise SystemExit(__doc__)
    reports = [json.loads(Path(p).read_text()) for p in argv[1:]]
    Path(argv[0]).write_text(json.dumps(merge(reports), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
