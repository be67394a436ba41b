"""Bare-mesh party processes (no CrypTen, no torch): large frames every way at once, for real.

In-process mesh tests run every rank as threads of one process; these run each rank as its
own process, reading on its one thread as a CrypTen party does, so nothing the test's
threads share can stand in for, or hide, a stall of the mesh itself.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import queue
from collections.abc import Sequence
from typing import Any

import numpy as np

from committees.transport.settings import TlsTransport

#: What a party reports: ``{(round, src): sha256 of the frame}`` and an error, if any.
Report = tuple[dict[tuple[int, int], bytes], str | None]


def frame_bytes(rank: int, round_no: int, size: int) -> bytes:
    """The ``size`` bytes rank ``rank`` sends to every peer in round ``round_no``."""
    return np.random.default_rng([rank, round_no]).bytes(size)


def mesh_party(transport: TlsTransport, size: int, rounds: int, out: Any) -> None:
    """Per round: post ``size`` bytes to every other rank, read every peer's, then wait.

    Everything is read on this process's one thread; odd ranks read their links in
    descending rank order, even ranks ascending. Reports ``(rank, digests, error)``.
    """
    digests: dict[tuple[int, int], bytes] = {}
    try:
        from committees.transport.frames import KIND_BYTES
        from committees.transport.mesh import connect_mesh

        mesh = connect_mesh(transport)
        try:
            for round_no in range(rounds):
                payload = frame_bytes(transport.rank, round_no, size)
                posted = [link.post(KIND_BYTES, payload) for link in mesh.outgoing.values()]
                buffer = bytearray(size)
                for src in sorted(mesh.incoming, reverse=transport.rank % 2 == 1):
                    mesh.incoming[src].receive(KIND_BYTES, into=memoryview(buffer))
                    digests[(round_no, src)] = hashlib.sha256(buffer).digest()
                for request in posted:
                    request.wait()
        finally:
            mesh.close()
        out.put((transport.rank, digests, None))
    except BaseException as err:
        out.put((transport.rank, digests, f"{type(err).__name__}: {err}"))


def run_mesh_parties(
    all_transports: Sequence[TlsTransport], size: int, rounds: int, *, timeout: float
) -> dict[int, Report]:
    """One :func:`mesh_party` process per transport; ``{rank: (digests, error)}``.

    A party that has not reported within ``timeout`` seconds of the previous report is
    missing from the result (and killed).
    """
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=mesh_party, args=(transport, size, rounds, out))
        for transport in all_transports
    ]
    for proc in procs:
        proc.start()
    results: dict[int, Report] = {}
    try:
        while len(results) < len(procs):
            rank, digests, error = out.get(timeout=timeout)
            results[rank] = (digests, error)
    except queue.Empty:
        pass
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
    return results
