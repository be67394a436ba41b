"""The methods of ``mpcrec bench quality``: how each is trained for one seed.

Every trainer gets a :class:`Setting` (the data and the federation around it), the seed's
partition into instances, the seed and a progress callback, and returns a scorer over the
test split plus extras for its row. A trainer fits on ``Setting.split`` (under the
whole-past protocol that history includes each user's validation item) and chooses any
setting it tunes on ``Setting.tuning``'s validation item (the leave-last-out view, where no
model has seen that item).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from mpcrec.bench.quality_content import train_fedavg_content
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.baselines import (
    ease_scorer,
    peertube_today_scorer,
    popularity_scorer,
    random_scorer,
)
from mpcrec.model.fedavg import FedConfig, train_fedavg
from mpcrec.model.metrics import Scorer, evaluate
from mpcrec.model.mf import MFConfig, train_central
from mpcrec.model.sasrec import train_sasrec
from mpcrec.model.seqrec import (
    SeqModel,
    anonymous_scorer,
    train_seq_central,
    train_seq_fedavg,
    user_scorer,
)
from mpcrec.model.sequence import transitions_scorer
from mpcrec.model.tuned import FEDAVG, FEDAVG_DP
from mpcrec.model.tuned_sequence import SASREC, SEQ, SEQ_FED, SEQ_FED_ROUNDS
from mpcrec.privacy.accountant import gaussian_epsilon, gaussian_noise_multiplier

METHODS = (
    "random",
    "popularity",
    "peertube_today",
    "ease",
    "mf_central",
    "fedavg_plain",
    "fedavg_content",
    "fedavg_dp",
    "transitions",
    "sasrec",
    "seq_central",
    "seq_fed",
)
# fedavg_content needs item metadata: asked for by name (--methods), not run by default
DEFAULT_METHODS = tuple(m for m in METHODS if m != "fedavg_content")
PROTOCOLS = ("whole-past", "train-only", "cold-start")
DELTA = 1e-5


@dataclass(frozen=True)
class Setting:
    """One benchmark run: the data and the federation around it.

    Attributes
    ----------
    split:
        What the methods train on and are tested on (whole-past or train-only view).
    tuning:
        The leave-last-out view whose validation item chooses settings.
    mf:
        The factorisation of ``mf_central`` (and the dimension of the federated ones).
    rounds, dp_rounds:
        Rounds of ``fedavg_plain`` and ``fedavg_dp``.
    epsilon:
        User-level ε of ``fedavg_dp``.
    """

    split: Split
    tuning: Split
    mf: MFConfig
    rounds: int
    dp_rounds: int
    epsilon: float

    def federated(self, base: FedConfig, **changes: Any) -> FedConfig:
        """``base`` with this setting's rounds (DP rounds with clipping) and dimension."""
        local = replace(base.local, mf=replace(base.local.mf, dim=self.mf.dim))
        rounds = self.dp_rounds if base.local.clip != "none" else self.rounds
        return replace(base, rounds=rounds, local=local, **changes)


Tick = Callable[[int], None]
Trainer = Callable[[Setting, Partition, int, Tick], tuple[Scorer, dict[str, Any]]]


def _central(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    return train_central(s.split, s.mf, seed=seed).scores, {}


def _fedavg(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    config = s.federated(FEDAVG)
    return train_fedavg(s.split, p, config, seed=seed, on_round=tick).scores, {}


def _fedavg_dp(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    rate = FEDAVG_DP.local.user_rate
    z = gaussian_noise_multiplier(
        target_epsilon=s.epsilon, steps=s.dp_rounds, delta=DELTA, sample_rate=rate
    )
    config = s.federated(FEDAVG_DP, noise_multiplier=z)
    factors = train_fedavg(s.split, p, config, seed=seed, on_round=tick)
    epsilon = gaussian_epsilon(noise_multiplier=z, steps=s.dp_rounds, delta=DELTA, sample_rate=rate)
    return factors.scores, {"epsilon": epsilon, "noise_multiplier": z}


def sequence_row(s: Setting, model: SeqModel) -> tuple[Scorer, dict[str, Any]]:
    """The logged-in scorer, with the anonymous viewer's metrics (current video only)."""
    anonymous = evaluate(anonymous_scorer(model, s.split), s.split)
    extra = {f"anonymous_{k}": v for k, v in anonymous.items()}
    return user_scorer(model, s.split), {**extra, "payload_values": model.flat().shape[0]}


def _seq_central(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    return sequence_row(s, train_seq_central(s.split, SEQ, seed=seed))


def _seq_fed(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    model = train_seq_fedavg(s.split, p, SEQ_FED, rounds=SEQ_FED_ROUNDS, seed=seed, on_round=tick)
    return sequence_row(s, model)


TRAINERS: dict[str, Trainer] = {
    "random": lambda s, p, seed, tick: (random_scorer(s.split, seed=seed), {}),
    "popularity": lambda s, p, seed, tick: (popularity_scorer(s.split, seed=seed), {}),
    "peertube_today": lambda s, p, seed, tick: (peertube_today_scorer(s.split, seed=seed), {}),
    "ease": lambda s, p, seed, tick: (ease_scorer(s.split, tune_on=s.tuning), {}),
    "mf_central": _central,
    "fedavg_plain": _fedavg,
    "fedavg_content": lambda s, p, seed, tick: (
        train_fedavg_content(s.split, p, s.federated(FEDAVG), seed=seed, tick=tick),
        {},
    ),
    "fedavg_dp": _fedavg_dp,
    "transitions": lambda s, p, seed, tick: (
        transitions_scorer(s.split, seed=seed, tune_on=s.tuning),
        {},
    ),
    "sasrec": lambda s, p, seed, tick: (train_sasrec(s.split, SASREC, seed=seed), {}),
    "seq_central": _seq_central,
    "seq_fed": _seq_fed,
}
