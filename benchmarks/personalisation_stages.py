"""Why personalisation's validation gains vanish on test: every candidate, no selection.

For every seed and instance, each candidate's per-user NDCG@10 at the three stages the
personalisation protocol uses (the bench's own functions): the third-last item ("early",
:func:`~mpcrec.bench.personalisation.earlier_view`, where the replay chooses), the
second-last ("valid", where the replay confirms and the deployed choice is made) and the
last ("test"), plus a blend with the instance's local popularity (``pop beta``: the
standardised shared scores + beta x the standardised log-count of the item among the
instance's users) and item-bias offsets fitted at home with a ridge prior (``bias
ridge``, :func:`bias_offsets`). Prints the mean gain over shared by size group and stage, and the
heterogeneity check (:func:`~mpcrec.model.personal_tiers.heterogeneity`).

    PYTHONPATH=. python benchmarks/personalisation_stages.py 0,1,2 g012.pkl [--stages early,valid]

``--partition`` as the bench's (zip-code regions by default; occupation, age, taste).

``--policy-from PILOT.pkl`` instead applies the policy picked once on the pilot's replay
(with and without the small tier) to these seeds' test items. ``--stages`` limits what is
printed (e.g. to keep a seed set's test items unseen); the pickle holds every stage. Not
part of the product: a diagnostic, 2026-12-02 (docs/benchmarks/personalisation.md).
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

from mpcrec.bench.personalisation import DELTA, earlier_view
from mpcrec.bench.personalisation_partitions import PARTITIONS, make_partition
from mpcrec.bench.quality_dp import calibrate
from mpcrec.data.movielens import load_movielens_100k
from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.model.dpals_train import Home, train_dpals
from mpcrec.model.personal import candidate_scores, local_model, standardised, user_gains
from mpcrec.model.personal_rule import LOSER_FLOOR, paired
from mpcrec.model.personal_tiers import heterogeneity, pick_policy
from mpcrec.model.tuned_dpals import ALS_DP, ALS_PLAIN

BETAS = (0.1, 0.25, 0.5, 1.0, 2.0)
RIDGES = (1.0, 10.0, 100.0, 1000.0)
GROUPS = (("<20", 0, 19), (">=20", 20, 10**9), ("20-99", 20, 99), (">=100", 100, 10**9))
Key = tuple[int, str, int]


def gains(seeds: list[int], partitioned: str = "zip") -> dict[Key, dict[str, np.ndarray]]:
    """(seed, stage, instance) -> candidate -> per-user NDCG@10."""
    data = load_movielens_100k()
    views = {
        "early": (earlier_view(data), "valid"),
        "valid": (leave_last_out(data), "valid"),
        "test": (whole_past(data), "test"),
    }
    out: dict[Key, dict[str, np.ndarray]] = {}
    for seed in seeds:
        partition = make_partition(partitioned, data, 20, seed)
        for name, (view, stage) in views.items():
            privacy = calibrate(ALS_DP, 8.0, DELTA)
            shared = train_dpals(view, partition, ALS_DP, privacy=privacy, seed=seed).item_factors
            rng = np.random.default_rng(seed)  # the bench's order: identical local models
            for k in range(partition.n_instances):
                members = partition.members(k)
                home = Home.create(view, members, ALS_DP)
                local = local_model(Home.create(view, members, ALS_PLAIN).conf, ALS_PLAIN, rng)
                scores = candidate_scores(shared, home, ALS_DP, local)
                counts = np.log1p((home.conf > 0).sum(axis=0).astype(float))
                popular = (counts - counts.mean()) / max(float(counts.std()), 1e-12)
                base = standardised(scores["shared"])
                for beta in BETAS:
                    scores[f"pop {beta:g}"] = base + beta * popular[None, :]
                for ridge in RIDGES:
                    scores[f"bias {ridge:g}"] = bias_offsets(scores["shared"], home.conf, ridge)
                out[(seed, name, k)] = {
                    c: user_gains(view, v, members, stage) for c, v in scores.items()
                }
    return out


def bias_offsets(scores: np.ndarray, conf: np.ndarray, ridge: float) -> np.ndarray:
    """Shared scores plus a per-item offset fitted at home with a ridge prior toward 0.

    ``b_i = argmin sum_u [c_ui (s_ui + b - 1)^2 + w0 (s_ui + b)^2] + ridge b^2`` (the home
    solve's loss, users held fixed), in closed form.
    """
    w0 = ALS_DP.user_unobserved
    offset = ((conf * (1.0 - scores)).sum(0) - w0 * scores.sum(0)) / (
        conf.sum(0) + w0 * conf.shape[0] + ridge
    )
    return np.asarray(scores + offset[None, :])


def report(table: dict[Key, dict[str, np.ndarray]], stages: list[str]) -> None:
    """Mean gain over shared by size group and stage; heterogeneity on each stage."""
    seeds = sorted({k[0] for k in table})
    keys = [(s, k) for s in seeds for k in range(20)]
    size = {(s, k): table[(s, "test", k)]["shared"].shape[0] for s, k in keys}
    for stage in stages:
        shared = np.mean([table[(s, stage, k)]["shared"].mean() for s, k in keys])
        print(f"shared, mean per instance, {stage}: {shared:.4f}")
    for c in (c for c in table[(seeds[0], "test", 0)] if c != "shared"):
        for label, low, high in GROUPS:
            part = [key for key in keys if low <= size[key] <= high]
            cells = " ".join(f"{st} {_gain(table, part, st, c):+.4f}" for st in stages)
            print(f"{c:22s} {label:6s} ({len(part)}): {cells}")
        for st in stages:
            h = heterogeneity([table[(s, st, k)] for s, k in keys], c)
            print(f"{'':22s} heterogeneity {st}: {h}")
        print(f"{'':22s} {persistence(table, [k for k in keys if size[k] >= LOSER_FLOOR], c)}")


def persistence(table: dict[Key, dict[str, np.ndarray]], part: list, c: str) -> str:
    """Whether an instance's gain on one item predicts its gain on the next: the
    correlation over the instances ``part`` of ``c``'s mean gain, early-valid and
    valid-test (real differences between instances persist; noise does not)."""
    gains = {
        st: [(table[(s, st, k)][c] - table[(s, st, k)]["shared"]).mean() for s, k in part]
        for st in ("early", "valid", "test")
    }
    ev = np.corrcoef(gains["early"], gains["valid"])[0, 1]
    vt = np.corrcoef(gains["valid"], gains["test"])[0, 1]
    return (
        f"gain correlation over {len(part)} instances: early-valid {ev:+.2f}, valid-test {vt:+.2f}"
    )


def _gain(table: dict[Key, dict[str, np.ndarray]], part: list, stage: str, c: str) -> float:
    """Mean over the instances ``part`` of candidate ``c``'s mean gain over shared."""
    return float(
        np.mean(
            [(table[(s, stage, k)][c] - table[(s, stage, k)]["shared"]).mean() for s, k in part]
        )
    )


def apply(pilot: dict[Key, dict[str, np.ndarray]], table: dict[Key, dict[str, np.ndarray]]) -> None:
    """The policy picked once on ``pilot``'s replay, applied to ``table``'s seeds (test)."""
    seeds, mine = sorted({k[0] for k in pilot}), sorted({k[0] for k in table})
    before = [pilot[(s, "early", k)] for s in seeds for k in range(20)]
    valid = [pilot[(s, "valid", k)] for s in seeds for k in range(20)]
    for small in (True, False):
        policy = pick_policy(before, valid, small_tier=small)
        shared, personal, losers, moved = [], [], [], 0
        for s, k in ((s, k) for s in mine for k in range(20)):
            choice, test = policy.choose(table[(s, "valid", k)]), table[(s, "test", k)]
            shared.append(test["shared"].mean())
            personal.append(test[choice].mean())
            moved += choice != "shared"
            gain, se = paired(test[choice] - test["shared"])
            if test["shared"].shape[0] >= LOSER_FLOOR and gain < -se:
                losers.append((s, k))
        print(
            f"{policy.label()}: seeds {mine} shared {np.mean(shared):.4f} personal "
            f"{np.mean(personal):.4f}, {moved} moved, worse beyond SE {losers}"
        )


def main() -> None:
    """Compute (or reload) the gains, then print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("seeds")
    parser.add_argument("pickle", type=Path)
    parser.add_argument("--stages", default="early,valid,test")
    parser.add_argument("--partition", choices=PARTITIONS, default="zip")
    parser.add_argument("--policy-from", type=Path, help="a pilot's pickle: apply its policy")
    args = parser.parse_args()
    if args.pickle.exists():
        table = pickle.loads(args.pickle.read_bytes())
    else:
        table = gains([int(s) for s in args.seeds.split(",")], args.partition)
        args.pickle.write_bytes(pickle.dumps(table))
    if args.policy_from:
        apply(pickle.loads(args.policy_from.read_bytes()), table)
        return
    report(table, args.stages.split(","))


if __name__ == "__main__":
    main()
