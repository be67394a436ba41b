"""``mpcrec bench personalisation``: the shared DP-ALS model against each instance's own.

Per seed: ML-100k partitioned into Zipf-sized instances (``--partition``: zip-code regions,
the default, or communities by occupation, age band or taste:
:mod:`~mpcrec.bench.personalisation_partitions`), the shared model trained by DP-ALS
(``--shared``: ``head``, ``ALS_DP``, what the runtime trains since 2026-12-02, a count
release then the statistics over the catalogue's head; or ``one-release``,
``ALS_DP_ONE_RELEASE``, the model the figures before 2026-12-02 were measured on), at
user-level ``--epsilon``, δ = 1e-5. Every
instance may compare ONE candidate (an item-factor offset pulled toward the shared factors,
or a mixture with a plain ALS of its own users, :mod:`mpcrec.model.personal`) with the
shared model on its own users' validation items (the leave-last-out view and a model
trained on it), and fits the chosen one on the whole past. The rule (size floor, one-sided
bar in standard errors, the candidate or a mixture weight shrunk by instance size:
:mod:`mpcrec.model.personal_rule`) is picked for each seed on the OTHER seeds' instances by
replaying the protocol one item earlier (choose on the third-last item, confirm on the
validation item): the best mean confirmed gain among the rules predicted to leave at most
0.1 instances of >= 20 users worse than shared beyond their SE in a 60-instance-seed run
(:data:`~mpcrec.model.personal_rule.MAX_PREDICTED_LOSERS`; 0.5 before 2026-12-02);
``--rule-seeds`` picks it ONCE on those seeds' replay instead and applies it to every
``--seeds`` (a pilot federation's role); ``--small-tier`` also picks a rule for the
instances of fewer than 20 users (:mod:`mpcrec.model.personal_tiers`; off: they keep the
shared model). A shrunk mixture is mixed at its exact weight ``min(n / (n + n0), cap)``.
Only the choices reach the test stage. The JSON also holds the heterogeneity check of
every candidate on validation items. Reported per instance: users,
the rule, the choice, test NDCG@10 of the shared and of the personal model, the paired
difference and its standard error, and the previous rule's choice, NDCG@10 and difference
side by side. Prints a table and writes JSON (and Markdown).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from mpcrec.bench.personalisation_partitions import (
    DESCRIPTIONS,
    PARTITIONS,
    community_labels,
    community_shares,
    make_partition,
)
from mpcrec.bench.personalisation_report import markdown
from mpcrec.bench.quality_dp import calibrate
from mpcrec.bench.report import check_writable, write_json
from mpcrec.data.interactions import Interactions
from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split, leave_last_out, whole_past
from mpcrec.errors import ConfigError
from mpcrec.files import write_atomic
from mpcrec.model.dpals import ALSConfig
from mpcrec.model.dpals_train import Home, train_dpals
from mpcrec.model.mf import Matrix
from mpcrec.model.personal import MIXES, STRENGTHS, candidate_scores, local_model, user_gains
from mpcrec.model.personal_rule import (
    CAPS,
    LOSER_FLOOR,
    MAX_PREDICTED_LOSERS,
    RULES,
    SHRINKS,
    Rule,
    calibration,
    choose,
    confirmations,
    paired,
    shrunk_name,
)
from mpcrec.model.personal_tiers import SMALL_RULES, Policy, heterogeneity, pick_policy
from mpcrec.model.tuned_dpals import ALS_DP, ALS_DP_ONE_RELEASE, ALS_PLAIN

SHARED = {"head": ALS_DP, "one-release": ALS_DP_ONE_RELEASE}
"""The shared model's settings by ``--shared`` name (see the module docstring)."""

DELTA = 1e-5
PREVIOUS = Rule(20, 0.0, "mix 0.5")
"""The rule of the last measurement (picked for mean held-out gain alone), run beside."""
SIZES = ((0, 19), (20, 49), (50, 99), (100, 10**9))
Gains = dict[int, list[dict[str, Matrix]]]
"""Per seed, every instance's per-user gains of each candidate."""


def register(sub: Any) -> None:
    """Add ``bench personalisation``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "personalisation",
        help="per-instance NDCG@10 of the shared DP-ALS model vs each instance's own",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--instances", type=int, default=20, help="instances (default 20)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (0,1,2)")
    parser.add_argument("--epsilon", type=float, default=8.0, help="user-level ε (8; inf: none)")
    parser.add_argument(
        "--partition",
        choices=PARTITIONS,
        default="zip",
        help="zip-code regions (issue 14's; default), or Zipf-sized communities: "
        "occupation, age band, taste cluster (mpcrec.bench.personalisation_partitions)",
    )
    parser.add_argument(
        "--shared",
        choices=sorted(SHARED),
        default="head",
        help="the shared model: head (ALS_DP, the runtime's; default) or one-release",
    )
    parser.add_argument(
        "--max-predicted",
        type=float,
        default=MAX_PREDICTED_LOSERS,
        metavar="LOSERS",
        help=f"predicted losers per 60 instance-seeds a picked rule may have "
        f"({MAX_PREDICTED_LOSERS:g}; 0.5 before 2026-12-02)",
    )
    parser.add_argument(
        "--rule-seeds",
        default="",
        metavar="SEEDS",
        help="pick the policy once on these seeds' replay (validation items only) and "
        "apply it to every --seeds (default: each seed's on the other --seeds)",
    )
    parser.add_argument(
        "--small-tier",
        action="store_true",
        help="also pick a rule for instances of < 20 users (off: they keep the shared "
        "model; the pick lost on test on seeds 0-2 and 3-5, 2026-12-02)",
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write Markdown")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run every seed, print the summary, write the report."""
    seeds, pilot = _seeds(args.seeds, "--seeds"), _seeds(args.rule_seeds, "--rule-seeds")
    if not seeds or args.instances < 1 or not args.epsilon > 0 or not args.max_predicted >= 0:
        raise ConfigError("need a seed, an instance, --epsilon > 0 and --max-predicted >= 0")
    for path in (args.out, args.markdown):
        if path is not None:
            check_writable(path)
    started = time.perf_counter()
    data = load_movielens_100k()
    tuning, split = leave_last_out(data), whole_past(data)
    early = earlier_view(data)
    replayed = sorted(set(seeds) | set(pilot))
    partitions = {s: make_partition(args.partition, data, args.instances, s) for s in replayed}
    purity = {
        s: community_shares(community_labels(args.partition, data, s), partitions[s]) for s in seeds
    }
    shared = SHARED[args.shared]
    valid = {s: valid_gains(tuning, partitions[s], shared, args.epsilon, s) for s in replayed}
    before = {s: valid_gains(early, partitions[s], shared, args.epsilon, s) for s in replayed}
    rules = policies(before, valid, seeds, pilot, args.max_predicted, args.small_tier)
    rows: list[dict[str, Any]] = []
    for s in seeds:
        rows += seed_rows(tuning, split, partitions[s], shared, args.epsilon, s, rules[s], valid[s])
    report = {
        "dataset": "ml-100k",
        "protocol": "whole-past",
        "partition": DESCRIPTIONS[args.partition],
        "partition_name": args.partition,
        "largest_community_share": {str(s): purity[s] for s in seeds},
        "instances": args.instances,
        "seeds": seeds,
        "epsilon": args.epsilon,
        "delta": DELTA,
        "shared": args.shared,
        "max_predicted_losers": args.max_predicted,
        "small_tier": args.small_tier,
        "config": asdict(shared),
        "local_config": asdict(ALS_PLAIN),
        "candidates": ["shared"]
        + [f"offset {s:g}" for s in STRENGTHS if not np.isinf(s)]
        + [f"mix {a:g}" for a in MIXES]
        + [shrunk_name(n0, cap) for n0 in SHRINKS for cap in CAPS],
        "rule_seeds": pilot,
        "rules": {str(s): rules[s].label() for s in seeds},
        "rule_grid": [r.label() for r in RULES],
        "small_rule_grid": [r.label() for r in SMALL_RULES],
        "rule_confirmations": {str(s): confirmation_table(before, valid, s) for s in seeds},
        "predictor_calibration": calibration(before, valid),
        "heterogeneity": heterogeneity_table(valid),
        "summary": summary(rows),
        "by_size": by_size(rows),
        "per_instance": rows,
        "elapsed_s": time.perf_counter() - started,
        "load_average": list(os.getloadavg()),
    }
    write_json(args.out, report, hint="choose a writable --out", allow_nan=False)
    text = markdown(report, PREVIOUS.label())
    if args.markdown:
        write_atomic(args.markdown, text.encode(), hint="choose a writable --markdown")
    print(text)
    print(f"wrote {args.out}")
    return 0


def _seeds(text: str, flag: str) -> list[int]:
    """Comma-separated seeds (``""``: none)."""
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: expected integers like 0,1,2") from None


def heterogeneity_table(valid: Gains) -> dict[str, dict[str, float]]:
    """:func:`~mpcrec.model.personal_tiers.heterogeneity` of each candidate on the
    validation items of every replayed seed's instances of >= 20 users."""
    pooled = [g for s in sorted(valid) for g in valid[s]]
    names = [c for c in pooled[0] if c != "shared"] if pooled else []
    return {c: heterogeneity(pooled, c) for c in names}


def confirmation_table(before: Gains, valid: Gains, seed: int) -> list[dict[str, Any]]:
    """Every rule replayed on the other seeds' instances: confirmed gain, losers, moves."""
    return [
        {
            "rule": c.rule.label(),
            "gain": c.gain,
            "losers": c.losers,
            "predicted_losers": c.predicted_losers,
            "moved": c.moved,
        }
        for c in confirmations(*_others(before, valid, seed))
    ]


def earlier_view(data: Interactions) -> Split:
    """The protocol one item back: train without each user's last three, validate on the
    third-last; its whole-past twin (train without the last two, test on the second-last)
    is :func:`~mpcrec.data.split.leave_last_out`'s validation stage, so choosing on this
    view and scoring on the validation item replays the deployed choice and its test.
    """
    return leave_last_out(whole_past(data).train)


def valid_gains(
    tuning: Split, partition: Partition, config: ALSConfig, epsilon: float, seed: int
) -> list[dict[str, Matrix]]:
    """Every instance's per-user validation NDCG@10 of each candidate (training-only view)."""
    return _gains(tuning, partition, config, epsilon, seed, "valid", None)


def _gains(
    view: Split,
    partition: Partition,
    config: ALSConfig,
    epsilon: float,
    seed: int,
    stage: str,
    chosen: list[set[str]] | None,
) -> list[dict[str, Matrix]]:
    privacy = calibrate(config, epsilon, DELTA)
    shared = train_dpals(view, partition, config, privacy=privacy, seed=seed).item_factors
    rng = np.random.default_rng(seed)
    gains: list[dict[str, Matrix]] = []
    for k in range(partition.n_instances):
        m = partition.members(k)
        local = local_model(Home.create(view, m, ALS_PLAIN).conf, ALS_PLAIN, rng)
        candidates = candidate_scores(shared, Home.create(view, m, config), config, local)
        if chosen is not None:
            candidates = {c: candidates[c] for c in {"shared"} | chosen[k]}
        gains.append({c: user_gains(view, v, m, stage) for c, v in candidates.items()})
    return gains


def seed_rows(
    tuning: Split,
    split: Split,
    partition: Partition,
    config: ALSConfig,
    epsilon: float,
    seed: int,
    rule: Policy,
    valid: list[dict[str, Matrix]] | None = None,
) -> list[dict[str, Any]]:
    """Every instance's shared and personal test NDCG@10 for one seed.

    Each instance chooses with ``rule`` (and, side by side, :data:`PREVIOUS`) on its
    ``valid`` gains (computed here if not given). Only the choices cross over to the test
    stage.
    """
    if valid is None:
        valid = valid_gains(tuning, partition, config, epsilon, seed)
    chosen = [rule.choose(g) for g in valid]
    before = [choose(g, PREVIOUS) for g in valid]  # side by side: the rule this replaces
    keep = [{a, b} for a, b in zip(chosen, before, strict=True)]
    gains = _gains(split, partition, config, epsilon, seed, "test", keep)
    rows = []
    for k, (choice, g) in enumerate(zip(chosen, gains, strict=True)):
        n = g["shared"].shape[0]
        difference, se = paired(g[choice] - g["shared"])
        previous, previous_se = paired(g[before[k]] - g["shared"])
        rows.append(
            {
                "seed": seed,
                "instance": k,
                "users": n,
                "rule": rule.label(),
                "choice": choice,
                "ndcg_shared": float(g["shared"].mean()),
                "ndcg_personal": float(g[choice].mean()),
                "difference": difference,
                "difference_se": se,
                "choice_previous": before[k],
                "ndcg_previous": float(g[before[k]].mean()),
                "difference_previous": previous,
                "difference_previous_se": previous_se,
            }
        )
    return rows


def _others(before: Gains, valid: Gains, seed: int) -> tuple[list[Any], list[Any]]:
    """The other seeds' instances (earlier-item and validation gains, paired), or this one's."""
    others = [s for s in valid if s != seed] or [seed]
    return [g for s in others for g in before[s]], [g for s in others for g in valid[s]]


def policies(
    before: Gains,
    valid: Gains,
    seeds: list[int],
    pilot: list[int] | None = None,
    max_predicted: float = MAX_PREDICTED_LOSERS,
    small_tier: bool = False,
) -> dict[int, Policy]:
    """Each seed's policy: picked once on the ``pilot`` seeds, or on the OTHER ``seeds``.

    ``before`` holds the gains on the earlier item (:func:`earlier_view`), ``valid`` on the
    validation item; :func:`~mpcrec.model.personal_tiers.pick_policy` chooses on the first
    and confirms on the second. With a single seed and no pilot, on its own instances
    (still validation).
    """
    if pilot:
        once = pick_policy(
            [g for s in pilot for g in before[s]],
            [g for s in pilot for g in valid[s]],
            max_predicted,
            small_tier,
        )
        return {seed: once for seed in seeds}
    mine = {s: valid[s] for s in seeds}
    return {
        seed: pick_policy(*_others(before, mine, seed), max_predicted, small_tier) for seed in seeds
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over instances (and over users), and the instances worse beyond one SE."""
    worse = [r for r in rows if _worse(r, "")]
    worse_before = [r for r in rows if _worse(r, "_previous")]
    users = np.array([r["users"] for r in rows], dtype=float)
    return {
        "mean_instance_ndcg_shared": float(np.mean([r["ndcg_shared"] for r in rows])),
        "mean_instance_ndcg_personal": float(np.mean([r["ndcg_personal"] for r in rows])),
        "mean_instance_ndcg_previous_rule": float(np.mean([r["ndcg_previous"] for r in rows])),
        "user_ndcg_shared": float(np.average([r["ndcg_shared"] for r in rows], weights=users)),
        "user_ndcg_personal": float(np.average([r["ndcg_personal"] for r in rows], weights=users)),
        "instances": len(rows),
        "personalised": sum(r["choice"] != "shared" for r in rows),
        "worse_beyond_se_20_plus": [(r["seed"], r["instance"]) for r in worse],
        "worse_beyond_se_20_plus_previous_rule": [(r["seed"], r["instance"]) for r in worse_before],
    }


def _worse(row: dict[str, Any], which: str) -> bool:
    """Whether an instance of >= 20 users is worse than shared by more than its SE."""
    gain, se = row[f"difference{which}"], row[f"difference{which}_se"]
    return bool(row["users"] >= LOSER_FLOOR and gain < -se)


def by_size(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean per-instance NDCG@10 of both models, by instance size."""
    out = []
    for low, high in SIZES:
        part = [r for r in rows if low <= r["users"] <= high]
        if part:
            out.append(
                {
                    "users": f"{low}-{high}" if high < 10**9 else f"{low}+",
                    "instances": len(part),
                    "ndcg_shared": float(np.mean([r["ndcg_shared"] for r in part])),
                    "ndcg_personal": float(np.mean([r["ndcg_personal"] for r in part])),
                    "personalised": sum(r["choice"] != "shared" for r in part),
                    "ndcg_previous": float(np.mean([r["ndcg_previous"] for r in part])),
                    "worse": sum(_worse(r, "") for r in part),
                    "worse_previous": sum(_worse(r, "_previous") for r in part),
                }
            )
    return out
