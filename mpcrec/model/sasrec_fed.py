"""SASRec trained by federated averaging: the secure rounds' shape, no per-user parameter.

The global parameters are every weight of :class:`~mpcrec.model.sasrec.SASRec` (item and
position embeddings, the blocks, the last norm), one flat vector
(:func:`flat_parameters`; 161,472 values at two blocks of dimension 64 over ML-100k's
1,682 items). Each round every instance copies the global vector, runs
``fed.local_epochs`` epochs of :func:`~mpcrec.model.sasrec.window_loss` over the windows of
its own users' histories with Adam (a fresh one each round, or with
``fed.keep_optimiser`` the instance's own, kept at home between rounds: local state, no
per-user parameter), and returns ``local - global``; the server adds ``server_lr`` times
the mean of the deltas weighted by the instances' next-item predictions (optionally with heavy-ball
momentum, :class:`~mpcrec.model.server.ServerSGD`): a sum of per-instance updates with
public weights, which is what the secure round computes. A viewer is served from their own
recent items at their instance; an anonymous viewer from the current video alone
(:func:`anonymous_sasrec_scorer`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mpcrec.data.interactions import IntArray
from mpcrec.data.partition import Partition
from mpcrec.data.split import Split
from mpcrec.model.metrics import Scorer
from mpcrec.model.mf import Matrix
from mpcrec.model.sasrec import SASRec, latest_scorer, recent, window_loss, windows
from mpcrec.model.sasrec_config import SASRecConfig, SASRecFedConfig
from mpcrec.model.sequence import histories
from mpcrec.model.server import ServerSGD, weighted_sum


def flat_parameters(model: nn.Module) -> Matrix:
    """Every parameter of ``model`` in registration order, one float64 vector."""
    vector = nn.utils.parameters_to_vector(model.parameters()).detach()
    return np.asarray(vector.numpy(), dtype=np.float64).copy()


def load_flat(model: nn.Module, values: Matrix) -> None:
    """Set ``model``'s parameters from a vector laid out as :func:`flat_parameters`."""
    reference = next(model.parameters())
    vector = torch.as_tensor(values, dtype=reference.dtype)
    with torch.no_grad():
        nn.utils.vector_to_parameters(vector, model.parameters())


@dataclass(frozen=True)
class Shard:
    """One instance's training windows and its public weight (next-item predictions)."""

    inputs: torch.Tensor
    targets: torch.Tensor

    @property
    def predictions(self) -> int:
        """Real (non-padding) next-item targets in the windows."""
        return int((self.targets >= 0).sum())


def shards_of(split: Split, partition: Partition, max_len: int) -> list[Shard]:
    """Every instance's windows (instances whose users have no two-item history: none)."""
    all_histories = histories(split.train)
    out = []
    for k in range(partition.n_instances):
        own = [all_histories[int(u)] for u in partition.members(k)]
        if any(h.shape[0] > 1 for h in own):
            out.append(Shard(*windows(own, max_len)))
    return out


def local_delta(
    model: SASRec,
    start: Matrix,
    shard: Shard,
    config: SASRecConfig,
    fed: SASRecFedConfig,
    generator: torch.Generator,
    optimiser: torch.optim.Optimizer | None = None,
) -> Matrix:
    """``local - start`` after ``fed.local_epochs`` epochs on ``shard`` from ``start``.

    ``optimiser``: the instance's own Adam over ``model``'s parameters, kept between rounds
    (``fed.keep_optimiser``); None: a fresh one.
    """
    load_flat(model, start)
    model.train()
    if optimiser is None:
        optimiser = adam(model, config)
    n = shard.inputs.shape[0]
    for _ in range(fed.local_epochs):
        shuffled = torch.randperm(n, generator=generator)
        for lo in range(0, n, config.batch_size):
            batch = shuffled[lo : lo + config.batch_size]
            loss = window_loss(
                model, shard.inputs[batch], shard.targets[batch], config.negatives, generator
            )
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
    return flat_parameters(model) - start


def adam(model: SASRec, config: SASRecConfig) -> torch.optim.Optimizer:
    """SASRec's optimiser (Adam, betas 0.9 and 0.98, as the central training)."""
    return torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.98))


def train_sasrec_fedavg(
    split: Split,
    partition: Partition,
    config: SASRecConfig,
    fed: SASRecFedConfig,
    *,
    seed: int,
    on_round: Callable[[int, SASRec], bool | None] | None = None,
    on_deltas: Callable[[int, list[Matrix]], None] | None = None,
) -> SASRec:
    """Plaintext FedAvg of SASRec over the instances for ``fed.rounds`` rounds.

    ``on_round(round, model)`` sees the global model after every round (1-based; e.g. to
    follow validation quality); training stops early when it returns ``False``.
    ``on_deltas(round, deltas)`` sees every instance's delta of the round (e.g. their norms
    against a clip). One torch thread, ``torch.manual_seed(seed)`` for the initialisation
    and dropout.
    """
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = SASRec(split.n_items, config)
    shards = shards_of(split, partition, config.max_len)
    total = sum(s.predictions for s in shards)
    weights = [s.predictions / total for s in shards]
    server = ServerSGD(lr=fed.server_lr, momentum=fed.server_momentum)
    params = flat_parameters(model)
    homes = [copy.deepcopy(model) if fed.keep_optimiser else model for _ in shards]
    kept = [adam(home, config) if fed.keep_optimiser else None for home in homes]
    for r in range(fed.rounds):
        deltas = [
            local_delta(home, params, s, config, fed, generator, optimiser)
            for home, s, optimiser in zip(homes, shards, kept, strict=True)
        ]
        if on_deltas is not None:
            on_deltas(r + 1, deltas)
        params = server.step(params, weighted_sum(deltas, weights))
        load_flat(model, params)
        if on_round is not None and on_round(r + 1, model) is False:
            break
    return model


def sasrec_scorer(model: SASRec, split: Split, items: int = 0) -> Scorer:
    """Logged-in viewers, from their latest ``items`` training items (0: ``max_len``)."""
    width = model.config.max_len
    last = [h[-(items or width) :] for h in histories(split.train)]
    return latest_scorer(model, recent(last, width))


def anonymous_sasrec_scorer(model: SASRec, split: Split) -> Scorer:
    """Anonymous viewers: from the current (latest) video alone."""
    current: list[IntArray] = [h[-1:] for h in histories(split.train)]
    return latest_scorer(model, recent(current, model.config.max_len))
