"""When a launcher opens rounds, and the model it starts from (``schedule:`` in
``federation.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from launch.store import LauncherStore, PublishedModel
from mpcrec.errors import ProtocolError
from mpcrec.federation.spec import FederationSpec

#: While calls pour in (a thousand commitments in a second), the scheduler and the round
#: feed look at the round at most this often, once for the whole burst.
SETTLE_S = 0.01


@dataclass(frozen=True)
class Schedule:
    """When rounds run.

    Parameters
    ----------
    rounds:
        Stop opening rounds once this many models have been published (0: never stop).
    interval_s:
        Seconds between round openings (0: back to back).
    init_seed:
        Seed of the initial model (version 0): N(0, init_scale²) embeddings.
    init_scale:
        Standard deviation of the initial embeddings.
    min_instances:
        Open the first round only once this many instances have registered (at least the
        committee's seats and ``min_contributors`` in any case).
    retry_s:
        Pause after an aborted round before the next opens (a committee that keeps failing
        must not spin the launcher through thousands of rounds).
    """

    rounds: int = 0
    interval_s: float = 0.0
    init_seed: int = 0
    init_scale: float = 0.1
    min_instances: int = 0
    retry_s: float = 1.0


def ensure_initial_model(store: LauncherStore, spec: FederationSpec, schedule: Schedule) -> None:
    """Put model version 0 (drawn as ``schedule`` says) in an empty store; refuse a store
    that holds a model of another shape than ``spec`` (more rows are fine: the model grew
    with the catalogue, :mod:`launch.grown_round`)."""
    latest = store.latest_model()
    if latest is not None:
        if latest.dim != spec.dim or latest.n_items < spec.n_items:
            raise ProtocolError(
                f"the store holds a {latest.n_items} x {latest.dim} model, the config "
                f"asks for {spec.n_items} x {spec.dim}",
                hint="use a fresh state directory for a different model",
            )
        return
    rng = np.random.default_rng(schedule.init_seed)
    values = rng.normal(0.0, schedule.init_scale, (spec.n_items, spec.dim))
    store.put_model(PublishedModel.from_array(0, values))
