"""A sequence-aware model for the federation: no per-user parameter at all.

The viewer is represented by their recent items: with ``c_1`` their current (latest) item,
``c_2`` the one before, ... (at most ``context`` of them),

    h = sum_k w_k E[c_k],   w_k = decay^(k-1) / sum_k' decay^(k'-1),

and an item ``b`` scores ``h . V[b]``; the last coordinate of ``h`` is fixed to 1, so
``V[:, -1]`` is an item bias. ``E`` (context embeddings) and ``V`` (item embeddings) are the
global parameters, both trained by federated rounds; ``h`` is computed at the viewer's
instance from their own history and never stored. With one item of context this is a
factorised first-order transition model (the transition part of FPMC, Rendle et al., WWW
2010); with more it is a recency-weighted mix of transitions. An anonymous viewer is scored
from the current video alone (:meth:`SeqModel.related`).

Training is BPR (one uniform negative per event, recency-weighted like
:mod:`mpcrec.model.mf`) on every training event that has at least one earlier item, in
seeded mini-batches (Hogwild-style summed steps, vectorised numpy). :func:`train_seq_central`
runs it over all events; :func:`train_seq_fedavg` runs FedAvg rounds in which every instance
trains on its own users' events and returns the delta of ``(E, V)``, averaged with weights
proportional to the instances' events, the shape of the secure rounds' aggregate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from mpcrec.data.interactions import IntArray
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.mf import Matrix, event_ages
from mpcrec.model.seqrec_softmax import softmax_loss_and_grads
from mpcrec.model.sequence import histories
from mpcrec.model.server import ServerSGD, weighted_sum


@dataclass(frozen=True)
class SeqConfig:
    """Hyper-parameters of :class:`SeqModel` and its training.

    Attributes
    ----------
    dim:
        Embedding dimension (the last coordinate is the item bias).
    context:
        Recent items that make up the viewer's representation.
    decay:
        Weight ratio between an item of context and the next more recent one.
    lr, reg:
        SGD step and L2 regularisation per example.
    batch_size:
        Events per vectorised mini-batch.
    epochs:
        Passes over the data (central) or local epochs per round (federated).
    init_std:
        Standard deviation of the Gaussian initialisation.
    recency_boost, recency_half_life:
        Event weights ``1 + boost * 0.5 ** (age / half_life)`` as in
        :class:`~mpcrec.model.mf.MFConfig`.
    loss:
        ``"bpr"`` (one uniform negative per event) or ``"softmax"`` (full softmax over the
        catalogue, :mod:`mpcrec.model.seqrec_softmax`).
    long_context, long_weight:
        The long-term part of the viewer: a share ``long_weight`` of the weights spread
        uniformly over the last ``long_context`` items (FISM-like; 0: none).
    negatives:
        BPR only: uniform candidates drawn per event, the one the model currently scores
        highest is the event's negative (dynamic negative sampling, Zhang et al., SIGIR
        2013); 1: one uniform negative.
    """

    dim: int = 32
    context: int = 5
    decay: float = 0.5
    lr: float = 0.05
    reg: float = 0.01
    batch_size: int = 256
    epochs: int = 30
    init_std: float = 0.1
    recency_boost: float = 0.0
    recency_half_life: float = 10.0
    loss: str = "bpr"
    long_context: int = 0
    long_weight: float = 0.0
    negatives: int = 1

    @property
    def width(self) -> int:
        """Columns of a context row: the short context or the long one, whichever is longer."""
        return max(self.context, self.long_context)


@dataclass(frozen=True)
class Contexts:
    """Training examples: the items before each event (newest first, -1 padded) and its item."""

    context: IntArray
    target: IntArray
    user: IntArray
    weight: Matrix

    @classmethod
    def of(cls, split: Split, config: SeqConfig, users: IntArray | None = None) -> Contexts:
        """Examples of every training event of ``users`` (default all) with an earlier item."""
        train = split.train
        ages_by_user = _ages_in_order(split)
        chosen = range(split.n_users) if users is None else (int(u) for u in users)
        context, target, who, ages = [], [], [], []
        all_histories = histories(train)
        for u in chosen:
            h = all_histories[u]
            for t in range(1, h.shape[0]):
                context.append(_recent(h[:t], config.width))
                target.append(h[t])
                who.append(u)
                ages.append(ages_by_user[u][t])
        weight = 1.0 + config.recency_boost * np.exp2(
            -np.asarray(ages, dtype=np.float64) / config.recency_half_life
        )
        return cls(
            context=np.asarray(context, dtype=np.int64).reshape(-1, config.width),
            target=np.asarray(target, dtype=np.int64),
            user=np.asarray(who, dtype=np.int64),
            weight=np.asarray(weight, dtype=np.float64),
        )


def _recent(history: IntArray, context: int) -> IntArray:
    """The last ``context`` items of ``history``, newest first, padded with -1."""
    out = np.full(context, -1, dtype=np.int64)
    tail = history[::-1][:context]
    out[: tail.shape[0]] = tail
    return out


def _ages_in_order(split: Split) -> list[IntArray]:
    """Every user's event ages (later events of the same user) in history order."""
    train = split.train
    order = np.lexsort((np.arange(len(train)), train.timestamps, train.users))
    ends = np.cumsum(train.counts_per_user())
    return list(np.split(event_ages(train)[order], ends[:-1]))


@dataclass
class SeqModel:
    """The global parameters: context embeddings ``E`` and item embeddings ``V``."""

    context_emb: Matrix
    item_emb: Matrix
    config: SeqConfig

    @classmethod
    def init(cls, n_items: int, config: SeqConfig, rng: np.random.Generator) -> SeqModel:
        """Gaussian ``E`` then ``V`` (bias column of ``V`` at 0)."""
        e = rng.normal(0.0, config.init_std, size=(n_items, config.dim))
        v = rng.normal(0.0, config.init_std, size=(n_items, config.dim))
        v[:, -1] = 0.0
        return cls(context_emb=e, item_emb=v, config=config)

    def viewers(self, context: IntArray) -> tuple[Matrix, Matrix]:
        """Representations ``h`` of context rows (newest first, -1 padded), and the weights."""
        w = _mix_weights(context, self.config)
        h = np.einsum("bk,bkd->bd", w, self.context_emb[np.maximum(context, 0)])
        h[:, -1] = 1.0
        return h, w

    def scores(self, context: IntArray) -> Matrix:
        """Scores of every item for each context row, shape ``(rows, n_items)``."""
        return np.asarray(self.viewers(context)[0] @ self.item_emb.T, dtype=np.float64)

    def related(self, current: IntArray) -> Matrix:
        """Scores for anonymous viewers from their current video alone."""
        return self.scores(np.asarray(current, dtype=np.int64)[:, None])

    def flat(self) -> Matrix:
        """``E`` then ``V``, row-major: the vector the federation aggregates."""
        return np.concatenate([self.context_emb.ravel(), self.item_emb.ravel()])

    def with_flat(self, values: Matrix) -> SeqModel:
        """The model whose parameters are ``values`` (as :meth:`flat` lays them out)."""
        half = self.context_emb.size
        return replace(
            self,
            context_emb=values[:half].reshape(self.context_emb.shape).copy(),
            item_emb=values[half:].reshape(self.item_emb.shape).copy(),
        )


def _mix_weights(context: IntArray, config: SeqConfig) -> Matrix:
    """Decayed weights over the short context, plus the long-term uniform share; rows sum to 1."""
    present = context >= 0
    slots = np.arange(context.shape[1])
    short = np.where(present & (slots < config.context), config.decay**slots, 0.0)
    w = short / np.maximum(short.sum(axis=1, keepdims=True), 1e-12)
    if config.long_context > 0 and config.long_weight > 0.0:
        long = (present & (slots < config.long_context)).astype(np.float64)
        long /= np.maximum(long.sum(axis=1, keepdims=True), 1e-12)
        w = (1.0 - config.long_weight) * w + config.long_weight * long
    return np.asarray(w, dtype=np.float64)


def seq_epoch(model: SeqModel, data: Contexts, lr: float, rng: np.random.Generator) -> None:
    """One epoch over ``data``, updating ``model`` in place (order, negatives: ``rng``)."""
    config = model.config
    if config.loss == "softmax":
        _softmax_epoch(model, data, lr, rng)
        return
    n_items = model.item_emb.shape[0]
    order: IntArray = rng.permutation(data.target.shape[0])
    n = data.target.shape[0]
    shape = (n,) if config.negatives == 1 else (n, config.negatives)
    negatives = np.asarray(rng.integers(0, n_items, size=shape), dtype=np.int64)
    e, v = model.context_emb, model.item_emb
    for start in range(0, order.shape[0], config.batch_size):
        batch = order[start : start + config.batch_size]
        ctx, i = data.context[batch], data.target[batch]
        h, w = model.viewers(ctx)
        if negatives.ndim == 1:
            j = negatives[batch]
        else:
            j = hardest(h, v, negatives[batch], np.column_stack([i, ctx]))
        diff = v[i] - v[j]
        x = np.einsum("bd,bd->b", h, diff)
        g = (data.weight[batch] / (1.0 + np.exp(np.clip(x, -30.0, 30.0))))[:, None]
        grad_h = g * diff
        grad_h[:, -1] = 0.0
        rows = np.maximum(ctx, 0)
        grad_e = w[:, :, None] * grad_h[:, None, :] - config.reg * (w > 0)[:, :, None] * e[rows]
        np.add.at(v, i, lr * (g * h - config.reg * v[i]))
        np.add.at(v, j, lr * (-g * h - config.reg * v[j]))
        np.add.at(e, rows.ravel(), lr * grad_e.reshape(-1, config.dim))


def hardest(h: Matrix, item_emb: Matrix, candidates: IntArray, taken: IntArray) -> IntArray:
    """Per row, the candidate with the highest score ``h . V[b]`` that is not in ``taken``.

    ``taken`` holds, per row, the event's own item and its context (-1 padded): a known
    item of the viewer is no negative. A row whose candidates are all taken keeps its first.
    """
    scores = np.einsum("bd,bkd->bk", h, item_emb[candidates])
    known = (candidates[:, :, None] == taken[:, None, :]).any(axis=2)
    picked = np.argmax(np.where(known, -np.inf, scores), axis=1)
    return np.asarray(candidates[np.arange(candidates.shape[0]), picked], dtype=np.int64)


def _softmax_epoch(model: SeqModel, data: Contexts, lr: float, rng: np.random.Generator) -> None:
    """One full-softmax epoch over ``data`` in shuffled mini-batches (summed gradients)."""
    config = model.config
    order: IntArray = rng.permutation(data.target.shape[0])
    for start in range(0, order.shape[0], config.batch_size):
        batch = order[start : start + config.batch_size]
        ctx = data.context[batch]
        _, grad_e, grad_v = softmax_loss_and_grads(
            model.context_emb,
            model.item_emb,
            ctx,
            _mix_weights(ctx, config),
            data.target[batch],
            data.weight[batch],
            config.reg,
            dtype=np.float32,
        )
        model.context_emb -= lr * grad_e
        model.item_emb -= lr * grad_v


def user_scorer(model: SeqModel, split: Split) -> Callable[[IntArray], Matrix]:
    """Scores of logged-in users from their latest training items."""
    latest = np.stack([_recent(h, model.config.width) for h in histories(split.train)])

    def score(users: IntArray) -> Matrix:
        return model.scores(latest[users])

    return score


def anonymous_scorer(model: SeqModel, split: Split) -> Callable[[IntArray], Matrix]:
    """Scores of users as anonymous viewers: from their current (latest) item only."""
    current = np.array([h[-1] for h in histories(split.train)], dtype=np.int64)

    def score(users: IntArray) -> Matrix:
        return model.related(current[users])

    return score


def train_seq_central(split: Split, config: SeqConfig, *, seed: int) -> SeqModel:
    """All training events in one place, ``config.epochs`` epochs, linearly decaying step."""
    rng = np.random.default_rng(seed)
    model = SeqModel.init(split.n_items, config, rng)
    data = Contexts.of(split, config)
    for epoch in range(config.epochs):
        seq_epoch(model, data, config.lr * (1.0 - epoch / config.epochs), rng)
    return model


def train_seq_fedavg(
    split: Split,
    partition: Partition,
    config: SeqConfig,
    *,
    rounds: int,
    seed: int,
    on_round: Callable[[int], None] | None = None,
    on_model: Callable[[int, SeqModel], None] | None = None,
) -> SeqModel:
    """Plaintext FedAvg over instances: ``config.epochs`` local epochs per round.

    Every instance trains a copy of the global ``(E, V)`` on its own users' examples and
    returns the delta; the server adds the example-weighted mean (server step 1, no
    momentum). The step decays linearly over the rounds. ``on_model(round, model)``, if
    given, sees the global model after every round (e.g. to follow validation quality).
    """
    rng = np.random.default_rng(seed)
    model = SeqModel.init(split.n_items, config, rng)
    shards = [
        Contexts.of(split, config, partition.members(k)) for k in range(partition.n_instances)
    ]
    total = sum(s.target.shape[0] for s in shards)
    weights = [s.target.shape[0] / total for s in shards]
    server = ServerSGD(lr=1.0, momentum=0.0)
    for r in range(rounds):
        lr = config.lr * (1.0 - r / rounds)
        start = model.flat()
        deltas = []
        for shard in shards:
            local = model.with_flat(start)
            for _ in range(config.epochs):
                seq_epoch(local, shard, lr, rng)
            deltas.append(local.flat() - start)
        model = model.with_flat(server.step(start, weighted_sum(deltas, weights)))
        if on_round is not None:
            on_round(r + 1)
        if on_model is not None:
            on_model(r + 1, model)
    return model
