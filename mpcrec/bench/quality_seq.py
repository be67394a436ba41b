"""The order-aware model under user-level DP in ``mpcrec bench quality``: ``seq_dp``.

``seq_dp`` trains :mod:`mpcrec.model.seqrec`'s federated settings (``SEQ_FED``) with
:mod:`mpcrec.model.seqrec_dp` (Poisson-sampled users, per-user clipping at home, Gaussian
noise on the sum) at the user-level ε of ``--epsilon`` (δ = 1e-5, over all rounds, the
RDP accountant of :mod:`mpcrec.privacy.accountant`) and, with ``--curve``, at every ε of
the curve beside ``fedavg_dp``. Its row carries the anonymous viewer's metrics and the
values per contribution (``payload_values``).

``seq_fed_hard`` is ``seq_fed`` (the same plaintext FedAvg of the same model, no DP) whose
BPR negative is the hardest of several uniform candidates (``SEQ_FED_HARD``);
``sasrec_fair`` is a central SASRec with Kang & McAuley's settings (``SASREC_FAIR``: two
blocks, full softmax, xavier init, epochs from early stopping on validation);
``sasrec_fed`` is that SASRec trained by plaintext FedAvg over the instances
(:mod:`mpcrec.model.sasrec_fed`, ``SASREC_FED`` and ``SASREC_FED_ROUNDS``: the secure
rounds' arithmetic), its row with the anonymous viewer's metrics and ``payload_values``.
``seq_fed_mix`` trains both federated models (``seq_fed_hard``'s and ``sasrec_fed_recent``'s,
each by its own rounds) and mixes their standardised scores at the viewer's instance
(:mod:`mpcrec.model.seq_ensemble`, ``SEQ_FED_MIX``); its row carries each part's NDCG@10 of
the same run beside the mix's (``PART_KEYS``). ``seq_fed_ease`` mixes ``seq_fed_hard``'s
model the same way with EASE's item-to-item weights fitted on the instances' summed Gram
matrices (:mod:`mpcrec.model.item_gram`, one secure round of ``n_items^2`` values; weight
``SEQ_FED_EASE_WEIGHT``); its anonymous viewer is ``seqrec``'s alone.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np

from mpcrec.bench.quality_methods import DELTA, Setting, Tick, Trainer, sequence_row
from mpcrec.data.partition import Partition
from mpcrec.model.item_gram import chosen_lambda, ease_viewer_scorer, federated_ease
from mpcrec.model.metrics import Scorer, evaluate
from mpcrec.model.mf import Matrix
from mpcrec.model.sasrec import SASRec, train_sasrec
from mpcrec.model.sasrec_config import SASRecFedConfig
from mpcrec.model.sasrec_fed import (
    anonymous_sasrec_scorer,
    flat_parameters,
    sasrec_scorer,
    train_sasrec_fedavg,
)
from mpcrec.model.seq_ensemble import SeqMixConfig, ensemble_scorer
from mpcrec.model.seqrec import anonymous_scorer, train_seq_fedavg, user_scorer
from mpcrec.model.seqrec_dp import train_seq_dp
from mpcrec.model.tuned_sequence import (
    SASREC_FAIR,
    SASREC_FED,
    SASREC_FED_RECENT_ROUNDS,
    SASREC_FED_ROUNDS,
    SEQ_DP,
    SEQ_DP_MODEL,
    SEQ_FED_EASE_WEIGHT,
    SEQ_FED_HARD,
    SEQ_FED_HARD_ROUNDS,
    SEQ_FED_MIX,
)
from mpcrec.privacy.accountant import gaussian_epsilon, gaussian_noise_multiplier

SEQ_METHODS = (
    "seq_dp",
    "seq_fed_hard",
    "sasrec_fair",
    "sasrec_fed",
    "sasrec_fed_recent",
    "seq_fed_mix",
    "seq_fed_ease",
)
SEQ_CURVED = ("seq_dp",)
"""The methods ``--curve`` runs at every ε (besides ``fedavg_dp``)."""
SEQ_ROUNDS = {
    "seq_dp": SEQ_DP.rounds,
    "seq_fed_hard": SEQ_FED_HARD_ROUNDS,
    "sasrec_fair": SASREC_FAIR.epochs,
    "sasrec_fed": SASREC_FED_ROUNDS.rounds,
    "sasrec_fed_recent": SASREC_FED_RECENT_ROUNDS.rounds,
    "seq_fed_mix": SEQ_FED_MIX.seq_rounds + SEQ_FED_MIX.sasrec.rounds,
    "seq_fed_ease": SEQ_FED_HARD_ROUNDS,
}
PARTS = ("seq_fed_hard", "sasrec_fed_recent")
"""The parts of ``seq_fed_mix``, in the order of :meth:`SeqMixConfig.weights`."""
MIX_KEYS = tuple(f"{who}{part}_ndcg@10" for part in PARTS for who in ("", "anonymous_"))
"""Each part's NDCG@10 (logged-in, anonymous) in ``seq_fed_mix``'s row."""
PART_KEYS = (*MIX_KEYS, "ease_ndcg@10", "ease_lambda")
"""The parts' figures of ``seq_fed_mix``'s and ``seq_fed_ease``'s rows (EASE: logged-in
only, and its ``lam``)."""


def seq_configs(epsilon: float) -> dict[str, Any]:
    """The settings of ``seq_dp``, ``seq_fed_hard``, ``sasrec_fair`` and ``sasrec_fed``."""
    return {
        "seq_dp": {
            **asdict(SEQ_DP_MODEL),
            **asdict(SEQ_DP),
            "target_epsilon": epsilon,
            "delta": DELTA,
        },
        "seq_fed_hard": {**asdict(SEQ_FED_HARD), "rounds": SEQ_FED_HARD_ROUNDS},
        "sasrec_fair": asdict(SASREC_FAIR),
        "sasrec_fed": {  # the network's epochs are the rounds' local epochs
            **{k: v for k, v in asdict(SASREC_FED).items() if k != "epochs"},
            **asdict(SASREC_FED_ROUNDS),
        },
        "sasrec_fed_recent": {
            **{k: v for k, v in asdict(SASREC_FED).items() if k != "epochs"},
            **asdict(SASREC_FED_RECENT_ROUNDS),
        },
        "seq_fed_ease": {
            **asdict(SEQ_FED_HARD),
            "rounds": SEQ_FED_HARD_ROUNDS,
            "ease_weight": SEQ_FED_EASE_WEIGHT,
        },
        "seq_fed_mix": {
            **asdict(SEQ_FED_MIX),
            "seqrec": asdict(SEQ_FED_HARD),
            "sasrec_network": {k: v for k, v in asdict(SASREC_FED).items() if k != "epochs"},
        },
    }


def _seq_dp(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    rate, rounds = SEQ_DP.user_rate, SEQ_DP.rounds
    z = gaussian_noise_multiplier(
        target_epsilon=s.epsilon, steps=rounds, delta=DELTA, sample_rate=rate
    )
    privacy = replace(SEQ_DP, noise_multiplier=z)
    model = train_seq_dp(s.split, p, SEQ_DP_MODEL, privacy, seed=seed, on_round=tick)
    epsilon = gaussian_epsilon(noise_multiplier=z, steps=rounds, delta=DELTA, sample_rate=rate)
    scorer, extra = sequence_row(s, model)
    return scorer, {**extra, "epsilon": epsilon, "noise_multiplier": z}


def _seq_fed_hard(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    model = train_seq_fedavg(
        s.split, p, SEQ_FED_HARD, rounds=SEQ_FED_HARD_ROUNDS, seed=seed, on_round=tick
    )
    return sequence_row(s, model)


def _sasrec_fair(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    def on_epoch(epoch: int, scorer: Scorer) -> None:
        tick(epoch)

    return train_sasrec(s.split, SASREC_FAIR, seed=seed, on_epoch=on_epoch), {}


def _sasrec_fed(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    return _federated_sasrec(s, p, seed, tick, SASREC_FED_ROUNDS)


def _sasrec_fed_recent(
    s: Setting, p: Partition, seed: int, tick: Tick
) -> tuple[Scorer, dict[str, Any]]:
    return _federated_sasrec(s, p, seed, tick, SASREC_FED_RECENT_ROUNDS)


def _federated_sasrec(
    s: Setting, p: Partition, seed: int, tick: Tick, fed: SASRecFedConfig
) -> tuple[Scorer, dict[str, Any]]:
    model, norm = _sasrec_model(s, p, seed, tick, fed)
    anonymous = evaluate(anonymous_sasrec_scorer(model, s.split), s.split)
    extra: dict[str, Any] = {f"anonymous_{k}": v for k, v in anonymous.items()}
    extra["payload_values"] = int(flat_parameters(model).shape[0])
    extra["max_delta_norm"] = norm
    return sasrec_scorer(model, s.split, fed.serve_items), extra


def _sasrec_model(
    s: Setting, p: Partition, seed: int, tick: Tick, fed: SASRecFedConfig
) -> tuple[SASRec, float]:
    """The federated SASRec and its largest instance's delta norm over the rounds."""
    norms: list[float] = []

    def on_round(r: int, model: SASRec) -> None:
        tick(r)

    def on_deltas(r: int, deltas: list[Matrix]) -> None:
        norms.append(max(float(np.linalg.norm(d)) for d in deltas))

    model = train_sasrec_fedavg(
        s.split, p, SASREC_FED, fed, seed=seed, on_round=on_round, on_deltas=on_deltas
    )
    return model, max(norms)


def _seq_fed_mix(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    mix: SeqMixConfig = SEQ_FED_MIX
    seq = train_seq_fedavg(
        s.split, p, SEQ_FED_HARD, rounds=mix.seq_rounds, seed=seed, on_round=tick
    )
    sasrec, norm = _sasrec_model(s, p, seed, lambda r: tick(mix.seq_rounds + r), mix.sasrec)
    logged_in = (user_scorer(seq, s.split), sasrec_scorer(sasrec, s.split, mix.sasrec.serve_items))
    anonymous = (anonymous_scorer(seq, s.split), anonymous_sasrec_scorer(sasrec, s.split))
    extra: dict[str, Any] = {}
    for part, mine, theirs in zip(PARTS, logged_in, anonymous, strict=True):
        extra[f"{part}_ndcg@10"] = evaluate(mine, s.split)["ndcg@10"]
        extra[f"anonymous_{part}_ndcg@10"] = evaluate(theirs, s.split)["ndcg@10"]
    mixed_anonymous = ensemble_scorer(anonymous, mix.weights(anonymous=True))
    extra |= {f"anonymous_{k}": v for k, v in evaluate(mixed_anonymous, s.split).items()}
    extra["payload_values"] = int(seq.flat().shape[0] + flat_parameters(sasrec).shape[0])
    extra["max_delta_norm"] = norm  # SASRec's part (seqrec's: benchmarks/seq_update_norms.py)
    return ensemble_scorer(logged_in, mix.weights()), extra


def _seq_fed_ease(s: Setting, p: Partition, seed: int, tick: Tick) -> tuple[Scorer, dict[str, Any]]:
    seq = train_seq_fedavg(
        s.split, p, SEQ_FED_HARD, rounds=SEQ_FED_HARD_ROUNDS, seed=seed, on_round=tick
    )
    lam = chosen_lambda(s.tuning, p)  # on the validation item of the leave-last-out view
    ease = ease_viewer_scorer(s.split, federated_ease(s.split, p, lam))
    logged_in, extra = sequence_row(s, seq)  # the anonymous viewer: seqrec's alone
    parts = (logged_in, ease)
    extra["seq_fed_hard_ndcg@10"] = evaluate(logged_in, s.split)["ndcg@10"]
    extra["anonymous_seq_fed_hard_ndcg@10"] = extra["anonymous_ndcg@10"]
    extra["ease_ndcg@10"] = evaluate(ease, s.split)["ndcg@10"]
    extra["ease_lambda"] = lam
    extra["gram_values"] = s.split.n_items**2  # one secure round, besides seqrec's rounds
    weights = (1.0 - SEQ_FED_EASE_WEIGHT, SEQ_FED_EASE_WEIGHT)
    return ensemble_scorer(parts, weights), extra


SEQ_TRAINERS: dict[str, Trainer] = {
    "seq_dp": _seq_dp,
    "seq_fed_hard": _seq_fed_hard,
    "sasrec_fair": _sasrec_fair,
    "sasrec_fed": _sasrec_fed,
    "sasrec_fed_recent": _sasrec_fed_recent,
    "seq_fed_mix": _seq_fed_mix,
    "seq_fed_ease": _seq_fed_ease,
}
