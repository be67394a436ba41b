"""``mpcrec demo``'s privacy: user-level differential privacy by default, ``--no-dp`` the
named opt-out.

By default the demo's federation promises user-level (ε, δ) = (8, 1e-5) over the whole run
(``privacy: {unit: user}`` in its federation.yaml; docs/privacy-accounting.md): every
instance draws each of its users with rate :data:`USER_RATE` per round at home, clips each
user's update to :data:`USER_CLIP_NORM`, and uploads the sum with weight 1; the committee
adds noise inside MPC at that sensitivity, with the noise multiplier the launcher derives
from the budget and the planned rounds; the launcher stops when the budget is spent; the
auditor recomputes ε (rule ``user_budget``). Every node's floor requires user level.

The settings (chosen on the validation item of seed 0 with the plaintext simulation of the
same rounds and the runtime's noise, docs/privacy-accounting.md "The demo"): the quality
benchmark's ``fedavg_dp`` (q = 0.2, C_u = 0.1, server momentum 0.5, one step per user) for
:data:`DP_ROUNDS` rounds instead of 50 (the per-round cost of the secure demo is about 7 s).
The benchmark's server step ``20 / (q W)`` on the sum becomes ``server_lr = 20 n / (q W)``
on the committee's mean over ``n`` instances (:mod:`mpcrec.node.user_dp`).

The non-private twin the report prints beside the federation is the plaintext simulation of
the same rounds without noise (:func:`non_private_twin`: the same sampling and clipping, the
same server step): what the noise costs, measured on the same split in seconds. ``--no-dp``
runs the earlier non-private demo instead (200 rounds of plain FedAvg, ε = ∞).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.fedavg import FedConfig, train_fedavg
from mpcrec.model.metrics import evaluate
from mpcrec.model.tuned import FEDAVG_DP

EPSILON = 8.0
DELTA = 1e-5
USER_RATE = FEDAVG_DP.local.user_rate
USER_CLIP_NORM = FEDAVG_DP.local.clip_norm
DP_ROUNDS = 25
PLAIN_ROUNDS = 200
#: What ``--no-dp`` gives up, in its ``--help``.
NO_DP_HELP = (
    "run without differential privacy (dpals: the same round without noise; mf: the earlier "
    "non-private demo, plain FedAvg, 200 rounds): gives up the user-level guarantee "
    "(epsilon = inf: nothing bounds what the "
    "published model reveals about one user); secure aggregation still hides each "
    "instance's update"
)


def server_lr(instances: int, users: int) -> float:
    """``fedavg_dp``'s server step ``lr / (q W)`` on the sum, as a step on the mean over
    ``instances`` contributions: ``lr * n / (q W)``."""
    return FEDAVG_DP.server_lr * instances / (USER_RATE * users)


def model_settings(*, dp: bool, instances: int, users: int) -> dict[str, float]:
    """The server optimiser of the demo's ``model:`` section."""
    if not dp:
        return {"server_lr": 1.0, "server_momentum": 0.0}
    return {
        "server_lr": server_lr(instances, users),
        "server_momentum": FEDAVG_DP.server_momentum,
    }


def privacy_section(*, dp: bool) -> dict[str, Any]:
    """The demo's ``privacy:`` section (none with ``--no-dp``: no promise)."""
    if not dp:
        return {}
    return {
        "privacy": {
            "unit": "user",
            "epsilon_budget": EPSILON,
            "delta": DELTA,
            "user_rate": USER_RATE,
            "user_clip_norm": USER_CLIP_NORM,
        }
    }


def node_floor(*, dp: bool, plaintext: bool) -> dict[str, Any]:
    """Every demo node's ``privacy_floor``: user level required (unless ``--no-dp``);
    ``--plaintext`` (the comparison) is refused by every node unless it opts out."""
    floor: dict[str, Any] = {"allow_plaintext": True} if plaintext else {}
    return floor | ({"require_user_level": True} if dp else {})


def non_private_twin(
    split: Split, partition: Partition, *, rounds: int, instances: int, users: int, seed: int
) -> dict[str, float]:
    """Test metrics of the plaintext simulation of the demo's rounds without noise: the same
    per-user sampling and clipping and the same server step (mean over instances times
    :func:`server_lr` is the simulation's sum over ``1 / (q W)`` times ``fedavg_dp``'s lr)."""
    config: FedConfig = replace(FEDAVG_DP, rounds=rounds, noise_multiplier=0.0)
    factors = train_fedavg(split, partition, config, seed=seed)
    assert math.isclose(
        server_lr(instances, users) / instances, config.server_lr / (USER_RATE * users)
    )
    return evaluate(factors.scores, split)


def privacy_sentence(report: dict[str, Any], *, mechanism: str, without_noise: str) -> str:
    """The report's sentence on the promise of a user-level run: ε, δ, the unit of privacy.

    Parameters
    ----------
    report
        The demo's report (its ``dp``, ``epsilon`` and ``noise_multiplier`` fields).
    mechanism
        The mechanism's own clause: who takes part in a round and the bound on one user
        (DP-FedAvg: ``"q = 0.2, C_u = 0.1"``; DP-ALS: every user in every round).
    without_noise
        What is left of the protection with ``--no-dp``, after ``epsilon = inf;``.

    Returns
    -------
    str
        The line, with rich markup.
    """
    if not report.get("dp"):
        return (
            f"privacy: [bold red]no differential privacy[/] (--no-dp): epsilon = inf; "
            f"{without_noise}"
        )
    eps = report.get("epsilon")
    shown = f"{eps:.3f}" if isinstance(eps, (int, float)) else str(eps)
    return (
        f"privacy: user-level epsilon {shown} at delta {DELTA:g} (declared budget "
        f"{EPSILON:g}); unit of privacy: one user's whole history at their instance "
        f"({mechanism}, noise multiplier {report.get('noise_multiplier', '?')})"
    )


def privacy_line(report: dict[str, Any]) -> str:
    """:func:`privacy_sentence` for a DP-FedAvg run: users sampled at rate ``q``."""
    return privacy_sentence(
        report,
        mechanism=f"q = {USER_RATE:g}, C_u = {USER_CLIP_NORM:g}",
        without_noise="secure aggregation hides each instance's update, nothing bounds what "
        "the model reveals about one user",
    )


def private_report(
    settings: Any, split: Split, quality: dict[str, dict[str, float]]
) -> dict[str, Any]:
    """The report's privacy fields (the unit, δ, the budget, the noise multiplier the
    launcher derived) and, with DP, the non-private twin's metrics added to ``quality``."""
    if not settings.dp:
        return {"dp": False, "privacy_unit": None, "epsilon_budget": None}
    from launch.config import LauncherConfig
    from mpcrec.data.movielens import load_movielens_100k
    from mpcrec.data.partition import partition_users

    config = LauncherConfig.load(settings.state_dir / "federation.yaml")
    partition = partition_users(load_movielens_100k(), settings.instances, seed=settings.seed)
    if settings.model == "mf":  # seqrec's plaintext twin: mpcrec.demo_seqrec.quality
        quality["non_private_twin"] = non_private_twin(
            split,
            partition,
            rounds=settings.rounds,
            instances=settings.instances,
            users=settings.users,
            seed=settings.seed,
        )
    return {
        "dp": True,
        "privacy_unit": "user",
        "delta": DELTA,
        "epsilon_budget": EPSILON,
        "user_rate": USER_RATE,
        "user_clip_norm": USER_CLIP_NORM,
        "noise_multiplier": round(config.spec.noise_multiplier, 4),
    }
