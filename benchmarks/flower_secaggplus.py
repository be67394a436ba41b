"""Flower's SecAgg+ round, timed the way ``mpcrec bench secure-agg`` times ours (the peer).

Runs in its own virtual environment with Flower installed (``make flower-venv`` makes
``.venv-flower`` with ``flwr==1.42.0``); ``mpcrec bench secure-agg --flower PYTHON`` calls it
with the same contributors and dimension and puts its figures beside ours.

What runs: Flower's own ``SecAggPlusWorkflow`` (server) and ``secaggplus_mod`` (clients),
unchanged, inside ``DefaultWorkflow`` with ``FedAvg`` and no training (each client returns a
fixed random vector of ``D`` float32 values, ``num_examples = 1``). Every message between
server and client goes through Flower's protobuf serialisation (``recorddict_to_proto`` and
back), so its bytes are counted and its copies paid for, as over the wire; the transport
itself is an in-memory grid that hands each message to the client's ``ClientApp`` in turn.

Two times per round (each also as CPU seconds, ``cpu_s`` and ``critical_path_cpu_s``,
which a loaded machine does not stretch; stderr shows each stage's progress):

* ``wall_s``: the whole round in one process, clients one after the other;
* ``critical_path_s``: the server's own time plus, for each of the four stages, the slowest
  client's time: the round's length if every client had a core of its own and the network
  were free. It is the figure we compare with (it favours Flower).

Parameters: ``num_shares = N`` (the full mesh) unless ``--num-shares K`` (SecAgg+'s
sparser graph); reconstruction threshold ``max(2, 2 num_shares / 3)``; Flower's default
quantisation, with ``max_weight = 1`` since every client weighs 1 (Flower's default of 1000
scales updates down by 1000 before quantising and costs three decimal digits). The
aggregate is checked against the plain mean of the client vectors (``max_abs_error``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from types import SimpleNamespace
from typing import Any

import numpy as np
from flwr.app import Context, Message, RecordDict
from flwr.client import NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.common import ndarrays_to_parameters
from flwr.common.serde import recorddict_from_proto, recorddict_to_proto
from flwr.proto.recorddict_pb2 import RecordDict as ProtoRecordDict
from flwr.server import ServerConfig
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.serverapp.grid.grid import Grid
from flwr.supercore.task_identity import TaskIdentity

SERVER_NODE = 1
PROGRESS_EVERY = 10


def progress(line: str) -> None:
    """One progress line on stderr with the time of day (to see how far a slow round got)."""
    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def client_vector(node_id: int, dim: int) -> np.ndarray:
    """The update client ``node_id`` sends (fixed, so the aggregate can be checked)."""
    return (np.random.default_rng(node_id).normal(size=dim) * 0.01).astype(np.float32)


class FixedUpdate(NumPyClient):
    """A client with no training: its update is :func:`client_vector`."""

    def __init__(self, node_id: int, dim: int) -> None:
        self.update = client_vector(node_id, dim)

    def fit(self, parameters: Any, config: Any) -> tuple[list[np.ndarray], int, dict]:
        return [self.update], 1, {}


class InMemoryGrid(Grid):
    """Hands every message to its client's ``ClientApp``, serialised both ways."""

    def __init__(self, app: ClientApp, node_ids: list[int]) -> None:
        self.app = app
        self.node_ids = node_ids
        self.contexts = {
            n: Context(run_id=1, node_id=n, node_config={}, state=RecordDict(), run_config={})
            for n in node_ids
        }
        self.stage_client_s: list[list[float]] = []
        self.stage_client_cpu_s: list[list[float]] = []
        self.bytes_up = 0
        self.bytes_down = 0

    def set_run(self, run: Any) -> None:
        """Nothing to set: one run."""

    @property
    def run(self) -> Any:
        return SimpleNamespace(run_id=1)

    def create_message(
        self, content: Any, message_type: str, dst_node_id: int, group_id: str, ttl: Any = None
    ) -> Message:
        return Message(
            content=content, dst_node_id=dst_node_id, message_type=message_type, group_id=group_id
        )

    def get_node_ids(self) -> list[int]:
        return self.node_ids

    def push_messages(self, messages: Any) -> Any:
        raise NotImplementedError("send_and_receive only")

    def pull_messages(self, message_ids: Any) -> Any:
        raise NotImplementedError("send_and_receive only")

    def send_and_receive(self, messages: Any, *, timeout: float | None = None) -> list[Message]:
        replies, times, cpus = [], [], []
        stage = len(self.stage_client_s)
        for sent in messages:
            start, cpu_start = time.perf_counter(), time.process_time()
            reply = self._deliver(sent)
            times.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu_start)
            replies.append(reply)
            if len(times) % PROGRESS_EVERY == 0:
                progress(
                    f"stage {stage}: {len(times)}/{len(messages)} clients, "
                    f"{sum(times):.1f} s wall, {sum(cpus):.1f} s CPU"
                )
        self.stage_client_s.append(times)
        self.stage_client_cpu_s.append(cpus)
        progress(
            f"stage {stage} done: {len(times)} clients, {sum(times):.2f} s wall, "
            f"{sum(cpus):.2f} s CPU, slowest client {max(times, default=0.0):.3f} s wall"
        )
        return replies

    def _deliver(self, sent: Message) -> Message:
        meta = sent.metadata
        wire = recorddict_to_proto(sent.content).SerializeToString()
        self.bytes_down += len(wire)
        received = Message(
            content=recorddict_from_proto(ProtoRecordDict.FromString(wire)),
            dst_node_id=meta.dst_node_id,
            message_type=meta.message_type,
            group_id=meta.group_id,
        )
        received.metadata.__dict__["_message_id"] = str(uuid.uuid4())
        received.metadata.__dict__["_src_node_id"] = SERVER_NODE
        answer = self.app(received, self.contexts[meta.dst_node_id])
        up = recorddict_to_proto(answer.content).SerializeToString()
        self.bytes_up += len(up)
        reply = Message(recorddict_from_proto(ProtoRecordDict.FromString(up)), reply_to=received)
        reply.metadata.__dict__["_src_node_id"] = meta.dst_node_id
        return reply


class TimedSecAggPlus(SecAggPlusWorkflow):
    """Flower's workflow, with the wall time of its one call recorded."""

    wall_s = 0.0
    cpu_s = 0.0

    def __call__(self, grid: Grid, context: Context) -> None:
        start, cpu_start = time.perf_counter(), time.process_time()
        super().__call__(grid, context)
        self.wall_s = time.perf_counter() - start
        self.cpu_s = time.process_time() - cpu_start


def one_round(contributors: int, dim: int, shares: int | None = None) -> dict[str, float]:
    """One SecAgg+ round of ``contributors`` x ``dim``: times, bytes and error.

    ``shares``: Flower's ``num_shares`` (a client's neighbours and itself); ``None`` is the
    full mesh.
    """
    shares = contributors if shares is None else shares
    node_ids = list(range(100, 100 + contributors))
    app = ClientApp(
        client_fn=lambda ctx: FixedUpdate(ctx.node_id, dim).to_client(), mods=[secaggplus_mod]
    )
    grid = InMemoryGrid(app, node_ids)
    zeros = ndarrays_to_parameters([np.zeros(dim, np.float32)])
    strategy = FedAvg(
        fraction_fit=1.0,
        fraction_evaluate=0.0,
        min_fit_clients=contributors,
        min_available_clients=contributors,
        initial_parameters=zeros,
    )
    server = Context(
        run_id=1, node_id=SERVER_NODE, node_config={}, state=RecordDict(), run_config={}
    )
    context = LegacyContext(context=server, config=ServerConfig(num_rounds=1), strategy=strategy)
    workflow = TimedSecAggPlus(
        num_shares=shares,
        reconstruction_threshold=max(2, shares * 2 // 3),
        max_weight=1.0,
    )
    DefaultWorkflow(fit_workflow=workflow)(grid, context)
    stages = grid.stage_client_s[-4:]  # the four SecAgg+ stages
    clients = sum(sum(s) for s in stages)
    critical = workflow.wall_s - clients + sum(max(s) for s in stages)
    cpu_stages = grid.stage_client_cpu_s[-4:]
    cpu_clients = sum(sum(s) for s in cpu_stages)
    critical_cpu = workflow.cpu_s - cpu_clients + sum(max(s) for s in cpu_stages)
    result = context.state.array_records["parameters"].to_numpy_ndarrays()[0]
    expected = np.mean([client_vector(n, dim) for n in node_ids], axis=0)
    return {
        "wall_s": workflow.wall_s,
        "critical_path_s": critical,
        "cpu_s": workflow.cpu_s,
        "critical_path_cpu_s": critical_cpu,
        "upload_bytes_per_value": grid.bytes_up / contributors / dim,
        "max_abs_error": float(np.max(np.abs(result - expected))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contributors", type=int, default=10)
    parser.add_argument("--dim", type=int, default=53824)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument(
        "--num-shares",
        type=int,
        help="shares per client, its own included (SecAgg+'s graph; odd: Flower 1.42 fails "
        "on an even one); default: every client (the full mesh)",
    )
    args = parser.parse_args()
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, SERVER_NODE, 1
    import flwr

    rounds = []
    for index in range(args.warmup + args.repeats):
        result = one_round(args.contributors, args.dim, args.num_shares)
        progress(
            f"round {index} ({'warm-up' if index < args.warmup else 'timed'}): {json.dumps(result)}"
        )
        rounds.append(result)
    rounds = rounds[args.warmup :]
    summary = {
        "flower": flwr.__version__,
        "contributors": args.contributors,
        "dim": args.dim,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "num_shares": args.num_shares or args.contributors,
        **{
            f"{key}_median": statistics.median(r[key] for r in rounds)
            for key in ("wall_s", "critical_path_s", "cpu_s", "critical_path_cpu_s")
        },
        "upload_bytes_per_value": rounds[0]["upload_bytes_per_value"],
        "max_abs_error": max(r["max_abs_error"] for r in rounds),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
