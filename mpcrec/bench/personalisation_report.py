"""The Markdown of ``mpcrec bench personalisation`` (:mod:`mpcrec.bench.personalisation`)."""

from __future__ import annotations

import math
from typing import Any


def markdown(report: dict[str, Any], previous: str) -> str:
    """The summary, the heterogeneity check, the by-size table and the per-instance table.

    ``previous`` names the rule run side by side.
    """
    s = report["summary"]
    lines = [
        f"partition: {report.get('partition', 'zip-code regions')}",
        "",
        f"mean per-instance NDCG@10: shared {s['mean_instance_ndcg_shared']:.4f}, "
        f"personal {s['mean_instance_ndcg_personal']:.4f}; over users: shared "
        f"{s['user_ndcg_shared']:.4f}, personal {s['user_ndcg_personal']:.4f}; "
        f"{s['personalised']} of {s['instances']} instance-seeds chose a personal model; "
        f"instances of >= 20 users worse than shared by more than one SE: "
        f"{len(s['worse_beyond_se_20_plus'])}; the previous rule ({previous}) in "
        f"the same run: {s['mean_instance_ndcg_previous_rule']:.4f}, "
        f"{len(s.get('worse_beyond_se_20_plus_previous_rule', []))} worse beyond one SE",
        "",
        "personal - shared, mean per instance: {:+.5f} ± {:.5f}".format(
            *pooled_difference(report["per_instance"])
        ),
        "",
        "policy per seed (picked "
        + (
            f"once on seeds {report['rule_seeds']}' replay"
            if report.get("rule_seeds")
            else "on the other seeds' instances"
        )
        + ", chosen on the third-last item and confirmed on the validation item, the "
        "tier of >= 20 users at most "
        f"{report.get('max_predicted_losers', 0.5):g} predicted losers per 60): "
        + ", ".join(f"seed {k}: {v}" for k, v in report.get("rules", {}).items()),
        "",
        "loser predictor out of sample (each seed's own replay against the other seeds' "
        "prediction, validation items; predicted per run from, rules, predicted, counted): "
        + "; ".join(
            f">= {b['per_run_from']:g}: {b['rules']}, {b['predicted']:.2f}, {b['counted']}"
            for b in report.get("predictor_calibration", [])
        ),
        "",
        "| users | instance-seeds | shared NDCG@10 | personal NDCG@10 | chose personal "
        "| previous rule | worse beyond SE (new / previous) |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in report["by_size"]:
        lines.append(
            f"| {b['users']} | {b['instances']} | {b['ndcg_shared']:.4f} | "
            f"{b['ndcg_personal']:.4f} | {b['personalised']} | {b['ndcg_previous']:.4f} | "
            f"{b['worse']} / {b['worse_previous']} |"
        )
    lines += heterogeneity_lines(report) + instance_lines(report)
    return "\n".join(lines) + "\n"


def pooled_difference(rows: list[dict[str, Any]]) -> tuple[float, float]:
    """Mean over instances of personal - shared, and its SE from the instances' paired SEs
    (independent instances: ``sqrt(sum se_k^2) / n``)."""
    n = len(rows)
    mean = sum(r["difference"] for r in rows) / n
    return mean, math.sqrt(sum(r["difference_se"] ** 2 for r in rows)) / n


def heterogeneity_lines(report: dict[str, Any]) -> list[str]:
    """The heterogeneity check of every candidate (:func:`personal_tiers.heterogeneity`)."""
    lines = [
        "",
        "heterogeneity on validation items, instances of >= 20 users (candidate: "
        "instances, mean z, sd z, Cochran's Q on df):",
    ]
    return lines + [
        f"- {c}: {h['instances']}, {h['mean_z']:+.2f}, {h['sd_z']:.2f}, "
        f"{h['q']:.1f} on {h.get('df', 0)}"
        for c, h in report.get("heterogeneity", {}).items()
    ]


def instance_lines(report: dict[str, Any]) -> list[str]:
    """The per-instance table, each seed's largest instances first."""
    lines = [
        "",
        "| seed | instance | users | chosen | shared | personal | difference ± SE "
        "| previous rule's choice | previous difference ± SE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(report["per_instance"], key=lambda r: (r["seed"], -r["users"])):
        lines.append(
            f"| {r['seed']} | {r['instance']} | {r['users']} | {r['choice']} | "
            f"{r['ndcg_shared']:.4f} | {r['ndcg_personal']:.4f} | "
            f"{r['difference']:+.4f} ± {r['difference_se']:.4f} | "
            f"{r['choice_previous']} {r['ndcg_previous']:.4f} | "
            f"{r['difference_previous']:+.4f} ± {r['difference_previous_se']:.4f} |"
        )
    return lines
