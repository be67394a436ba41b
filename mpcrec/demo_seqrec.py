"""``mpcrec demo --model seqrec``: the demo federation training the order-aware model.

The same launcher, nodes, committees and audit as :mod:`mpcrec.demo`; what changes:

* the federation's model kind is ``seqrec`` (``model: {model: seqrec}``): the model is
  :mod:`mpcrec.model.seqrec`'s ``(E, V)`` as one ``(1682, 64)`` matrix
  (:mod:`mpcrec.node.seqrec_trainer`), 107,648 values, twice MF's; every node's trainer is
  ``{kind: movielens, model: seqrec}``; the initial model is drawn as
  :func:`~mpcrec.model.seqrec.train_seq_fedavg` draws it;
* the committee's clip norm is :data:`CLIP_NORM` (the wrap guard's ``B = 16 C`` must keep
  ``D (B 2**16)**2 < 2**63``: ``C < 8.8`` at 107,648 values); without DP the server step
  is :data:`SERVER_LR` and every node sends its delta over it (with the runtime's
  ``SEQ_FED_HARD`` a local delta's norm is at most 24.9 over the demo's 20 x 25 rounds,
  3.1 once divided; ``SEQ_FED``: 37.6, 4.7), so the published model is still
  FedAvg's weighted mean; with DP (the default) the user-level path of
  :mod:`mpcrec.demo_privacy` with the trainer's per-user clipping at home
  (:meth:`~mpcrec.node.seqrec_trainer.SeqrecTrainer.update_user_level`), at MF's settings
  (not tuned for this model);
* the quality report: the published ``(E, V)`` scored for logged-in viewers (their recent
  items) and for anonymous viewers (the current video alone), beside popularity, PeerTube
  today and the plaintext twin (:func:`~mpcrec.model.seqrec.train_seq_fedavg` of the same
  rounds on the same partition, no DP); without DP also each mixed with EASE as
  ``seqrec_serving`` serves it (:class:`~mpcrec.node.seqrec_ease.EaseTerm`: ``x_u B``,
  ``e_v B``): ``+ease(released gram)``, ``B`` from the Gram the federation released in
  its first ``S`` secure rounds (:func:`gram_release`, versions ``1 .. S`` of the store, as
  every node rebuilds it: :mod:`mpcrec.node.gram_release`), and ``+ease(twin gram)``, ``B``
  from the release's exact twin, the plaintext sum of the instances' Grams. Under DP no
  Gram is released and no mix is reported: a Gram released without noise is not private.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mpcrec.data.split import Split
from mpcrec.model.item_gram import (
    EaseConfig,
    ease_anonymous_scorer,
    ease_viewer_scorer,
    ease_weights,
    federated_ease,
    from_triangle,
    gram_slices,
)
from mpcrec.model.metrics import evaluate
from mpcrec.model.mf import Matrix
from mpcrec.model.seq_ensemble import ensemble_scorer
from mpcrec.model.seqrec import SeqModel, anonymous_scorer, train_seq_fedavg, user_scorer
from mpcrec.model.tuned_sequence import SEQ_RUNTIME

MODELS = ("mf", "seqrec")
CLIP_NORM = 8.0
SERVER_LR = 8.0


def federation_model(model: dict[str, Any], *, dp: bool) -> dict[str, Any]:
    """The demo's ``model:`` section for ``seqrec`` (``model`` as the MF demo writes it)."""
    seq = {**model, "model": "seqrec", "clip_norm": CLIP_NORM}
    if not dp:
        seq |= {"server_lr": SERVER_LR, "server_momentum": 0.0}
    return seq


def gram_release(config: dict[str, Any], settings: Any, n_items: int) -> dict[str, Any]:
    """``federation.yaml`` with the Gram release without DP (an ``ease:`` section, and its
    ``S`` slices' rounds before the training rounds in ``schedule.rounds``); unchanged
    under DP (an unnoised Gram is not private)."""
    if settings.dp:
        return config
    ease = EaseConfig()
    section = {"lambda": ease.lam, "weight": ease.weight, "clip_counts": ease.clip_counts}
    section["slice_values"] = settings.ease_slice_values
    slices = len(gram_slices(n_items, settings.ease_slice_values))
    schedule = {**config["schedule"], "rounds": config["schedule"]["rounds"] + slices}
    return {**config, "ease": section, "schedule": schedule}


def released_gram(db: Path) -> tuple[Any, list[int]] | None:
    """The Gram the federation released (versions ``1 .. S``'s slices, from the launcher's
    store, each checked against the digest its committee signed in the log by the audit)
    and the versions; ``None`` without a release."""
    from launch.sqlite_store import SQLiteStore
    from mpcrec.federation.gram_slice import slice_counts

    store = SQLiteStore(db)
    try:
        parts, version = [], 1
        while (model := store.get_model(version)) is not None and model.gram_slice:
            parts.append(slice_counts(model.gram_slice))
            version += 1
    finally:
        store.close()
    if not parts:
        return None
    return from_triangle(np.concatenate(parts), model_items(db)), list(range(1, version))


def model_items(db: Path) -> int:
    """The rows of the initial model (the videos the Gram counts)."""
    from launch.sqlite_store import SQLiteStore

    store = SQLiteStore(db)
    try:
        first = store.get_model(0)
    finally:
        store.close()
    assert first is not None
    return first.n_items


def node_trainer(trainer: dict[str, Any]) -> dict[str, Any]:
    """A node's ``trainer:`` section for ``seqrec``."""
    return {**trainer, "model": "seqrec"}


def initial_model(n_items: int, seed: int) -> Any:
    """The initial ``[E | V]`` (as the simulation draws it)."""
    from mpcrec.node.seqrec_trainer import initial_matrix

    return initial_matrix(n_items, seed)


def quality(
    db: Path,
    split: Split,
    *,
    instances: int,
    rounds: int,
    seed: int,
    baselines: bool,
    dp: bool = True,
) -> tuple[int, dict[str, dict[str, float]]]:
    """The published model's version and test metrics: the federation (logged-in and
    anonymous viewers), and with ``baselines`` popularity, PeerTube today and the
    plaintext twin."""
    from launch.sqlite_store import SQLiteStore
    from mpcrec.node.seqrec_trainer import to_model

    store = SQLiteStore(db)
    try:
        published = store.latest_model()
    finally:
        store.close()
    assert published is not None
    model = to_model(published.array(), SEQ_RUNTIME)
    result = {
        "federation": evaluate(user_scorer(model, split), split),
        "federation_anonymous": evaluate(anonymous_scorer(model, split), split),
    }
    from mpcrec.data.movielens import load_movielens_100k
    from mpcrec.data.partition import partition_users

    partition = partition_users(load_movielens_100k(), instances, seed=seed)
    ease = None if dp else federated_ease(split, partition, EaseConfig().lam)
    released = None if dp else released_gram(db)
    if released is not None:  # B as every node solves it, from the released Gram
        gram, _ = released
        b = ease_weights(gram.astype(np.float64), EaseConfig().lam)
        result |= _mixed("federation", model, split, b, "released gram")
    if ease is not None:
        result |= _mixed("federation", model, split, ease)
    if baselines:
        from mpcrec.model.baselines import peertube_today_scorer, popularity_scorer

        twin = train_seq_fedavg(split, partition, SEQ_RUNTIME, rounds=rounds, seed=seed)
        result["plaintext_twin"] = evaluate(user_scorer(twin, split), split)
        result["plaintext_twin_anonymous"] = evaluate(anonymous_scorer(twin, split), split)
        if ease is not None:
            result |= _mixed("plaintext_twin", twin, split, ease)
        result["popularity"] = evaluate(popularity_scorer(split, seed=seed), split)
        result["peertube_today"] = evaluate(peertube_today_scorer(split, seed=seed), split)
    return published.version, result


def _mixed(
    name: str, model: SeqModel, split: Split, ease: Matrix, source: str = "twin gram"
) -> dict[str, dict[str, float]]:
    """``model`` mixed with EASE's ``ease`` as the node serves it, logged-in and anonymous
    (``source``: where ``B``'s Gram came from, in the rows' names)."""
    config = EaseConfig()
    logged_in = ensemble_scorer(
        [user_scorer(model, split), ease_viewer_scorer(split, ease)], config.mix()
    )
    anonymous = ensemble_scorer(
        [anonymous_scorer(model, split), ease_anonymous_scorer(split, ease)],
        config.mix(anonymous=True),
    )
    return {
        f"{name}+ease({source})": evaluate(logged_in, split),
        f"{name}_anonymous+ease({source})": evaluate(anonymous, split),
    }
