"""CrypTen party processes for the transport tests: the same program over TLS or over gloo.

Every party seeds torch and CrypTen's generators deterministically, so a program run twice
(once per transport) must reveal bit-identical results: any difference is the transport's.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from committees.transport.settings import (
    GlooTransport,
    TlsTransport,
    Transport,
    certs_at,
    local_tls_peers,
)
from mpcrec.crypto.pki import create_ca, issue_certificate
from tests.net import free_port

N = 1000


@dataclass(frozen=True)
class Committee:
    """Where a test committee's certificates are, and how many members and dealers it has."""

    cert_dir: Path
    ca: Path
    instance_ids: tuple[str, ...]

    def tls(self, rank: int, ports: list[int], **kwargs: Any) -> TlsTransport:
        peers = local_tls_peers(self.instance_ids[: len(ports)], ports)
        certs = certs_at(self.cert_dir, self.instance_ids[rank], self.ca)
        return TlsTransport(rank=rank, peers=peers, certs=certs, **kwargs)


def make_committee(tmp: Path, size: int) -> Committee:
    """A CA and ``size`` instance certificates (``member-0``...) under ``tmp``."""
    ca = create_ca(tmp / "ca")
    ids = tuple(f"member-{i}" for i in range(size))
    for iid in ids:
        issue_certificate(tmp / "ca", tmp / "certs", instance_id=iid, hosts=["127.0.0.1"])
    return Committee(cert_dir=tmp / "certs", ca=ca.cert, instance_ids=ids)


def transports(kind: str, committee: Committee, members: int, total: int) -> list[Transport]:
    """One transport per rank (``total`` = members plus the dealer, if any)."""
    if kind == "gloo":
        rendezvous = f"tcp://127.0.0.1:{free_port()}"
        return [GlooTransport(rendezvous, rank=r, world_size=members) for r in range(total)]
    ports = [free_port() for _ in range(total)]
    return [committee.tls(r, ports, connect_timeout_s=30, recv_timeout_s=30) for r in range(total)]


def fixed_key(label: str) -> bytes:
    """A fixed 32-byte key for ``label`` (reproducible runs only: never for a real round)."""
    return hashlib.sha256(label.encode()).digest()


def deterministic_keys(rank: int) -> None:
    """Make this party's PRG keys (and so the dealer's) the same in every run of a test."""
    from committees.transport import randomness

    counter = itertools.count()
    randomness.new_key = lambda: fixed_key(f"party {rank} key {next(counter)}")


def seed_everything(rank: int) -> None:
    """Deterministic CrypTen generators (prev of rank r = next of rank r-1), 256-bit keyed."""
    from committees.transport.randomness import RingGenerator
    from mpcrec.crypten_compat import load_crypten

    crypten = load_crypten()
    world = crypten.comm.get().get_world_size()
    cpu = torch.device("cpu")
    keys = {
        "next": fixed_key(f"pair {rank}"),
        "prev": fixed_key(f"pair {(rank - 1) % world}"),
        "local": fixed_key(f"local {rank}"),
        "global": fixed_key("global"),
    }
    for name, key in keys.items():
        crypten.generators[name][cpu] = RingGenerator(key)


def arithmetic_program(rank: int) -> dict[str, Any]:
    """Sum, product, comparison, abs and a dot product of two secret vectors; comm calls."""
    from mpcrec.crypten_compat import load_crypten

    crypten = load_crypten()
    comm = crypten.comm.get()
    seed_everything(rank)
    x_plain, y_plain = inputs()
    crypten.reset_communication_stats()
    x = crypten.cryptensor(x_plain, src=0)
    y = crypten.cryptensor(y_plain, src=1)
    out: dict[str, Any] = {
        "sum": (x + y).get_plain_text(),
        "product": (x * y).get_plain_text(),
        "less": (x < y).get_plain_text(),
        "abs": x.abs().get_plain_text(),
        "dot": x.dot(y).get_plain_text(),
        "x_share": x.share.clone(),  # this party's share: must match across transports
    }
    out["stats"] = crypten.comm.get().get_communication_stats()
    out["stats"].pop("time")
    world = comm.get_world_size()
    mine = torch.arange(4, dtype=torch.long) + 10 * rank
    out["all_gather"] = torch.stack(comm.all_gather(mine))
    gathered = comm.gather(mine, 1)
    out["gather"] = torch.stack(gathered) if rank == 1 else None
    out["scatter"] = comm.scatter([torch.full((3,), 7 * r) for r in range(world)], 2)
    out["broadcast_obj"] = comm.broadcast_obj({"from": 0} if rank == 0 else None, 0)
    reduced = comm.reduce(mine, 0)
    out["reduce"] = reduced if rank == 0 else None
    comm.barrier()
    return out


def busy_program(rank: int) -> dict[str, Any]:
    """Multiply and reveal for up to a minute: long enough to lose a member in the middle."""
    from mpcrec.crypten_compat import load_crypten

    crypten = load_crypten()
    seed_everything(rank)
    x_plain, y_plain = inputs()
    x = crypten.cryptensor(x_plain, src=0)
    y = crypten.cryptensor(y_plain, src=1)
    stop = time.monotonic() + 60
    steps = 0
    while time.monotonic() < stop:
        (x * y).get_plain_text()
        steps += 1
    return {"steps": steps}


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Two distinctive public test vectors (x from rank 0, y from rank 1)."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(N, generator=gen) * 10
    y = torch.randn(N, generator=gen) * 10
    return x, y


def party(
    transport: Transport,
    provider: str,
    program: Callable[[int], dict[str, Any]] | None,
    out: Any,
    ready: Any = None,
) -> None:
    """One CrypTen party (or the TTP dealer when ``program`` is None); reports to ``out``."""
    rank = transport.rank
    start = time.monotonic()
    try:
        from committees.transport.install import install_transport
        from mpcrec.crypten_compat import load_crypten, set_torch_threads

        set_torch_threads(1)
        torch.manual_seed(4000 + rank)
        deterministic_keys(rank)
        crypten = load_crypten()
        crypten.cfg.communicator.verbose = True
        if provider == "replicated":
            crypten.cfg.mpc.protocol = "replicated"
        else:
            crypten.cfg.mpc.provider = "TTP"
        install_transport(transport)
        if program is None:
            crypten.mpc.provider.TTPServer()
            out.put((rank, {}, None, time.monotonic() - start))
            return
        crypten.init()
        if ready is not None:
            ready.set()
        result = {key: _portable(value) for key, value in program(rank).items()}
        crypten.uninit()
        out.put((rank, result, None, time.monotonic() - start))
    except BaseException as err:
        detail = f"{type(err).__name__}: {err}"
        if os.environ.get("MPCREC_TEST_TRACEBACK"):
            detail += "\n" + traceback.format_exc()
        out.put((rank, None, detail, time.monotonic() - start))


def _portable(value: Any) -> Any:
    """Tensors as numpy arrays: torch's queue pickling shares memory that dies with the party."""
    return value.numpy().copy() if torch.is_tensor(value) else value


def run_parties(
    all_transports: Sequence[Transport],
    provider: str,
    program: Callable[[int], dict[str, Any]],
    *,
    members: int,
    timeout: float = 90,
    kill_rank: int | None = None,
    kill_after: float = 0.0,
    kill_signal: int = signal.SIGKILL,
) -> dict[int, tuple[Any, str | None, float]]:
    """Run one party process per transport; return ``{rank: (result, error, seconds)}``.

    With ``kill_rank``, that process gets ``kill_signal`` ``kill_after`` seconds after every
    member has joined the session (``crypten.init()`` returned), and the seconds reported
    for every other rank are counted from that moment.
    """
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = []
    events = []
    for transport in all_transports:
        prog = program if transport.rank < members else None
        ready = ctx.Event()
        proc = ctx.Process(target=party, args=(transport, provider, prog, out, ready))
        proc.start()
        procs.append(proc)
        events.append(ready if prog is not None else None)
    results: dict[int, tuple[Any, str | None, float]] = {}
    try:
        if kill_rank is not None:
            for event in events:
                if event is not None and not event.wait(timeout=timeout):
                    raise TimeoutError("parties did not start")
            time.sleep(kill_after)
            os.kill(procs[kill_rank].pid or 0, kill_signal)
            killed_at = time.monotonic()
            results[kill_rank] = (None, "killed", 0.0)
        while len(results) < len(procs):
            rank, result, error, seconds = out.get(timeout=timeout)
            if kill_rank is not None:  # how long after the kill each survivor reported
                seconds = time.monotonic() - killed_at
            results[rank] = (result, error, seconds)
    finally:
        for proc in procs:
            if kill_signal == signal.SIGSTOP and proc.is_alive():
                os.kill(proc.pid or 0, signal.SIGCONT)
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
    return results
