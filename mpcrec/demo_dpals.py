"""``mpcrec demo --model dpals``: the demo's federation trains private ALS (model kind
``dpals``) instead of DP-FedAvg.

Every node runs :class:`~mpcrec.node.dpals_trainer.MovieLensDPALSTrainer`. Round 1 is the
count release: every instance uploads its users' item counts, the committee adds the
user-level noise at the count multiplier inside MPC and reveals them, and every member
publishes (and signs) the start with the rows outside the top ``head_items`` at 0: the
head (:mod:`mpcrec.model.dpals_counts`). Round 2: every instance solves its users at home
from that model and contributes their scaled statistics over the head and their count
(:mod:`mpcrec.model.dpals_release`); the committee adds the noise at the statistics
multiplier and reveals the sum; every member solves the public item factors and signs them.
The settings are :data:`~mpcrec.model.tuned_dpals.ALS_DP` (read from there: its dimension,
its head, its public start from the video metadata = the initial model). Privacy: user
level, every user in every round (``user_rate`` 1: the bound is deterministic), ε = 8 at
δ = 1e-5 over the two releases, both noise multipliers derived by the launcher with the
exact accountant (:mod:`mpcrec.federation.dpals_noise`; docs/privacy-accounting.md "DP-ALS
in the runtime").

The report's federation quality uses, for every instance, the user factors it would serve:
solved at home from the last published model (:meth:`MovieLensDPALSTrainer.home_users`,
the same computation, gathered here as the simulation-only view). Beside it: the non-private
twin, the same algorithm, partition and start without noise
(:func:`mpcrec.model.dpals_train.train_dpals`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.demo_privacy import DELTA, EPSILON, privacy_sentence
from mpcrec.federation.dpals_noise import COUNT_ROUNDS
from mpcrec.model.dpals import solve_users
from mpcrec.model.dpals_release import runtime_config
from mpcrec.model.dpals_train import Home, Privacy, metadata_items, train_dpals
from mpcrec.model.metrics import evaluate
from mpcrec.model.mf import Factors, Matrix
from mpcrec.model.tuned_dpals import ALS_DP

MODEL = "dpals"
ROUNDS = COUNT_ROUNDS  # the count release, then ALS_DP's rounds of statistics
USER_RATE = 1.0
#: ``C_u``: DP-ALS is scale-free in it (each block is scaled to it at home and back by the
#: members); it only has to keep the instances' sums inside ``model.clip_norm`` and the wrap
#: guard's ring (the largest demo instance's statistics have norm about 4 at 0.1).
USER_CLIP_NORM = 0.1
#: The committee's norm bound on an instance's sum: its counts in the count release are the
#: largest, ``C_u`` times the norm of the summed ``1/sqrt(k)`` vectors (ML-100k at 0.1: 38.9
#: for one instance of all 943 users, 18.7 for the largest of 4, 13.4 of 10); a larger bound
#: costs nothing in privacy (the noise is ``z C_u``), below it the node would project.
CLIP_NORM = 40.0
HELP = (
    "the model the federation trains: dpals (private alternating least squares: user "
    "factors solved at home, the committee sums noisy statistics, the item factors are "
    "solved publicly from them) or mf (DP-FedAvg of BPR-MF)"
)


def initial_items(split: Split) -> Matrix:
    """The public start: ``ALS_DP``'s item factors from the video metadata (or, for a
    random start, drawn with its ``init_std`` from seed 0)."""
    config = runtime_config(ALS_DP.dim, counts=True)
    if config.init == "metadata":
        return metadata_items(split, config.dim, config.init_std)
    rng = np.random.default_rng(0)
    return np.asarray(rng.normal(0.0, config.init_std, (split.n_items, config.dim)))


def federation(settings: Any, config: dict[str, Any]) -> dict[str, Any]:
    """The demo's ``federation.yaml`` for a ``dpals`` run (``config`` as for ``mf``)."""
    if settings.model != MODEL:
        return config
    model = {k: v for k, v in config["model"].items() if k not in ("server_lr", "server_momentum")}
    out = {**config, "model": {**model, "model": MODEL, "clip_norm": CLIP_NORM}}
    if settings.dp:
        out["privacy"] = {
            "unit": "user",
            "epsilon_budget": EPSILON,
            "delta": DELTA,
            "user_rate": USER_RATE,
            "user_clip_norm": USER_CLIP_NORM,
        }
    return out


def node(settings: Any, config: dict[str, Any]) -> dict[str, Any]:
    """A demo node's ``node.yaml`` for a ``dpals`` run: the DP-ALS MovieLens trainer."""
    if settings.model != MODEL:
        return config
    return {**config, "trainer": {**config["trainer"], "model": MODEL}}


def home_factors(split: Split, partition: Partition, items: Matrix) -> Matrix:
    """Every user's factor as their instance solves it at home from ``items``."""
    config = runtime_config(items.shape[1], counts=True)
    users = np.zeros((split.n_users, items.shape[1]))
    for k in range(partition.n_instances):
        home = Home.create(split, partition.members(k), config)
        users[home.global_users] = solve_users(items, home.conf, config)
    return users


def quality(
    split: Split, instances: int, items: Matrix, *, seed: int
) -> dict[str, dict[str, float]]:
    """Test metrics of the federation's published ``items`` (each instance's users solved
    at home from them) and of the non-private twin."""
    from mpcrec.data.movielens import load_movielens_100k
    from mpcrec.data.partition import partition_users

    partition = partition_users(load_movielens_100k(), instances, seed=seed)
    config = runtime_config(items.shape[1], counts=True)
    users = home_factors(split, partition, items)
    twin = train_dpals(
        split, partition, config, privacy=Privacy.none(), seed=seed, initial_items=None
    )
    return {
        "federation": evaluate(Factors(users, items).scores, split),
        "non_private_twin": evaluate(twin.scores, split),
    }


def private_report(settings: Any) -> dict[str, Any]:
    """The report's privacy fields of a ``dpals`` run (the noise multiplier as the launcher
    derived it from the budget and the rounds)."""
    if not settings.dp:
        return {"dp": False, "model": MODEL, "privacy_unit": None, "epsilon_budget": None}
    from launch.config import LauncherConfig

    spec = LauncherConfig.load(settings.state_dir / "federation.yaml").spec
    return {
        "dp": True,
        "model": MODEL,
        "privacy_unit": "user",
        "delta": DELTA,
        "epsilon_budget": EPSILON,
        "user_rate": USER_RATE,
        "user_clip_norm": USER_CLIP_NORM,
        "noise_multiplier": round(spec.noise_multiplier, 4),
        "count_noise_multiplier": round(spec.count_noise_multiplier, 4),
        "contribution_values": spec.contribution_size,
    }


def privacy_line(report: dict[str, Any]) -> str:
    """The report's sentence on the promise of a ``dpals`` run (:func:`privacy_sentence`):
    every user in every round, and the count release's multiplier beside the statistics'."""
    count = report.get("count_noise_multiplier")
    bound = f"each user's statistics bounded to C_u = {USER_CLIP_NORM:g}"
    if count:
        bound = (
            f"each user's item counts and statistics bounded to C_u = {USER_CLIP_NORM:g}, "
            f"the count release at noise multiplier {count:g}, the statistics"
        )
    return privacy_sentence(
        report,
        mechanism=f"DP-ALS: every user in every round, {bound}",
        without_noise="DP-ALS statistics summed without noise: nothing bounds what the model "
        "reveals about one user",
    )
