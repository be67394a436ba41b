"""User-level differential privacy at home: each user's influence bounded before anything
leaves the instance, and the node's own account of what its users spent.

Under round parameters with ``sensitivity: user``
(:class:`~mpcrec.federation.round_params.RoundParams`), a contributing instance, every round:

1. draws each of its users into the round independently with the public rate ``q``
   (Poisson sampling), from a generator seeded with 128 fresh bits of the operating
   system's entropy (:func:`fresh_rng`): nothing the launcher sends or knows (the round
   seed, the beacon, the model) determines who is drawn;
2. trains each drawn user's private copy of the item rows their events touch and clips that
   user's delta to ``C_u`` on its own (:func:`mpcrec.model.local.local_update` in mode
   ``clip="user"``, DP-FedAvg's per-user clipping);
3. uploads the SUM of the clipped deltas (the committee still clips the whole sum to the
   instance's ``clip_norm``: a projection, so one user still moves it by at most ``C_u``)
   with the public weight :data:`USER_WEIGHT`, the same for every instance and every round,
   even when no user was drawn (then the sum is zero): neither the weight nor whether the
   instance takes part depends on its users' data.

The committee forms ``sum_i w_i S_i`` with ``w_i = 1 / n`` (``n`` accepted contributions,
public) and adds Gaussian noise of standard deviation ``z * C_u / n`` inside MPC; the server
step multiplies by ``server_lr``. So the model moves by ``server_lr / n * (sum_i S_i +
N(0, (z C_u)^2))``: the fixed-denominator estimator of McMahan et al. 2018 (DP-FedAvg,
"Learning differentially private recurrent language models"), ``(sum of clipped user
deltas + noise) / (q W)``, with the public denominator ``n / server_lr`` standing for the
expected number of drawn users ``q W`` (the operator chooses ``server_lr`` for it:
``server_lr = n * eta / (q W)`` for a per-user step ``eta``).

:func:`check_user_floor` holds round parameters to the node's user-level privacy floor
(rule ``floor-user-dp``; a dpals count release's pair of multipliers:
:mod:`mpcrec.node.count_split`), and :class:`UserBudget` counts the user-level rounds this node
contributed to (persisted) and refuses one that would take its users' ε above
``max_user_epsilon``.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path
from typing import Protocol

import numpy as np

from mpcrec.federation.round_params import RoundParams
from mpcrec.files import write_atomic
from mpcrec.model.local import LocalConfig
from mpcrec.model.tuned import FEDAVG_DP
from mpcrec.node.config import PrivacyFloor
from mpcrec.node.count_split import check_count_split, planned_releases
from mpcrec.node.model_kind import check_model_kind
from mpcrec.node.round_refusal import RoundRefused
from mpcrec.node.trainer import Matrix, Trainer
from mpcrec.privacy.budget import Mechanism, epsilon_spent

#: The public weight every contribution signs at user level.
USER_WEIGHT = 1.0
USER_BUDGET_FILE = "user_budget.json"
RULE = "floor-user-dp"


class UserLevelTrainer(Protocol):
    """A trainer that can bound each of its users' influence (module docstring, steps 1-2)."""

    def update_user_level(
        self,
        model: Matrix,
        version: int,
        *,
        user_rate: float,
        user_clip_norm: float,
        rng: np.random.Generator,
    ) -> Matrix:
        """The sum over users drawn with ``user_rate`` of each one's delta clipped to
        ``user_clip_norm``, training from model ``version`` (draws from ``rng``)."""


def user_local(version: int, rounds: int, user_rate: float, user_clip_norm: float) -> LocalConfig:
    """The local settings of a user-level round from model ``version`` of ``rounds``
    (``fedavg_dp``'s, with the round's public ``q`` and ``C_u``)."""
    base = FEDAVG_DP.local
    return dataclasses.replace(
        base,
        mf=base.mf.at(min(version, rounds - 1), rounds),
        user_rate=user_rate,
        clip_norm=user_clip_norm,
    )


def fresh_rng() -> np.random.Generator:
    """A generator seeded with 128 fresh bits from the operating system (``secrets``)."""
    return np.random.default_rng(secrets.randbits(128))


def home_update(
    trainer: Trainer, model: Matrix, version: int, params: RoundParams
) -> tuple[Matrix, float]:
    """The update and weight this node contributes under ``params``: the trainer's own at
    instance level, :func:`user_level_update` at user level (a round of a model kind the
    trainer cannot train is refused first, ``model-kind``)."""
    check_model_kind(trainer, params)
    if params.user_level:
        return user_level_update(trainer, model, version, params)
    if params.model == "seqrec":  # FedAvg's mean: the delta over the server step
        return trainer.update(model, version, server_lr=params.server_lr)  # type: ignore[call-arg]
    return trainer.update(model, version)


def user_level_update(
    trainer: Trainer, model: Matrix, version: int, params: RoundParams
) -> tuple[Matrix, float]:
    """This round's user-level contribution: the sum of the drawn users' clipped deltas and
    :data:`USER_WEIGHT` (a trainer that cannot clip per user is refused, ``floor-user-dp``)."""
    update = getattr(trainer, "update_user_level", None)
    if update is None:
        raise RoundRefused(
            RULE,
            f"a user-level round, but this node's trainer ({type(trainer).__name__}) cannot "
            "sample and clip per user",
            hint="use a movielens or peertube trainer",
        )
    delta = update(
        model,
        version,
        user_rate=params.user_rate,
        user_clip_norm=params.user_clip_norm,
        rng=fresh_rng(),
    )
    return np.asarray(delta, dtype=np.float64).reshape(model.shape), USER_WEIGHT


def check_user_floor(floor: PrivacyFloor, params: RoundParams) -> None:
    """Refuse round parameters below the floor's user-level minimums (``floor-user-dp``)."""
    if not params.user_level:
        if floor.require_user_level:
            raise RoundRefused(
                RULE,
                f"the round's unit of privacy is not one user (sensitivity "
                f"{params.sensitivity!r}) and this node requires user level",
                hint="privacy_floor: {require_user_level: false} takes part anyway",
            )
        check_count_split(params, floor.user_delta)  # a count release is user level's only
        return
    if params.noise_multiplier < floor.min_user_noise_multiplier:
        raise RoundRefused(
            RULE,
            f"user-level noise multiplier {params.noise_multiplier:g} < this node's "
            f"min_user_noise_multiplier {floor.min_user_noise_multiplier:g}",
        )
    check_count_split(params, floor.user_delta)
    cap, planned = floor.max_user_epsilon, planned_releases(params)
    epsilon = epsilon_spent(planned, delta=floor.user_delta)
    if cap is None or epsilon <= cap:
        return
    what = f"one round of user-level noise multiplier {params.noise_multiplier:g} spends"
    if len(planned) > 1:  # a count release: its whole plan, before the counts are sent
        what = (
            f"the count release (z {params.count_noise_multiplier:g}) and "
            f"{len(planned) - 1} statistics round(s) (z {params.noise_multiplier:g}) spend"
        )
    raise RoundRefused(
        RULE,
        f"{what} epsilon {epsilon:.4f} at delta {floor.user_delta:g} (rate "
        f"{params.user_rate:g}), above max_user_epsilon {cap:g}",
    )


class UserBudget:
    """The user-level rounds this node contributed to (``<state_dir>/user_budget.json``), and
    the ε its users spent in them at the floor's ``user_delta``.

    Every upload counts, recorded before it is sent (the committee may reveal it whatever
    happens next): the node's ε is an upper bound of what its own users spent.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / USER_BUDGET_FILE
        raw = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        self._rounds: dict[int, Mechanism] = {
            int(r): (float(m[0]), float(m[1])) for r, m in raw.items()
        }

    def epsilon(self, delta: float, extra: list[Mechanism] | None = None) -> float:
        """ε of the recorded rounds (and ``extra``) at ``delta``."""
        return epsilon_spent([*self._rounds.values(), *(extra or [])], delta=delta)

    def check(
        self, floor: PrivacyFloor, round_id: int, params: RoundParams, version: int = -1
    ) -> None:
        """Refuse a new user-level round (on model ``version``) that takes ε above
        ``max_user_epsilon``."""
        cap = floor.max_user_epsilon
        if not params.user_level or cap is None or round_id in self._rounds:
            return
        extra = [params.release_mechanism(version)]
        rest = planned_releases(params)[1:] if params.counts_round(version) else []
        after = self.epsilon(floor.user_delta, extra)
        planned = self.epsilon(floor.user_delta, extra + rest) if rest else after
        if after > cap:
            raise RoundRefused(
                RULE,
                f"contributing to round {round_id} would take this node's users to epsilon "
                f"{after:.3f} at delta {floor.user_delta:g} after {len(self._rounds) + 1} "
                f"user-level rounds, above max_user_epsilon {cap:g}",
            )
        if planned > cap:  # a count release again (its round re-run): the plan must fit
            raise RoundRefused(
                RULE,
                f"contributing to the count release again (round {round_id}) and then to "
                f"its {len(rest)} statistics round(s) would take this node's users to "
                f"epsilon {planned:.3f} at delta {floor.user_delta:g}, above "
                f"max_user_epsilon {cap:g}: it sends no counts, to keep the budget for "
                "the statistics",
            )

    def record(self, round_id: int, params: RoundParams, version: int = -1) -> None:
        """Count a user-level contribution to ``round_id`` on model ``version`` (before it
        is sent), at that round's multiplier."""
        if not params.user_level:
            return
        self._rounds[round_id] = params.release_mechanism(version)
        data = {str(r): list(m) for r, m in sorted(self._rounds.items())}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(data, sort_keys=True).encode("utf-8"))
