"""Where a committee member's validation time goes: wall and CPU seconds per step.

A diagnostic for ``mpcrec bench secure-agg``, not part of mpcrec. Put this directory first
on ``PYTHONPATH`` and name an output directory; every party process (spawned, so it
imports this module at start-up) then writes one JSON line per round to
``$MPCREC_PARTY_STEPS/<pid>.jsonl``::

    MPCREC_PARTY_STEPS=/tmp/steps PYTHONPATH=benchmarks/party_steps:$PWD \\
        mpcrec bench secure-agg --contributors 100 --range-check --transport tls --out x.json

Each line holds, per step (the validation's functions, CrypTen's A2B, binary AND and
reveal, ``replicate_shares`` and the TLS communicator's calls), ``[wall_s, cpu_s, calls]``.
CPU is ``time.process_time`` (every thread of the process): wall much above CPU is
waiting, for peers or, on a loaded machine, for a core.
"""

from __future__ import annotations

import builtins
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

OUT = os.environ.get("MPCREC_PARTY_STEPS")
STEPS: dict[str, list[float]] = {}
_VALIDATION = ("squared_norms", "public_coin", "check_slack", "any_negative", "random_projections")
_COMM = ("send", "recv", "isend", "irecv", "all_reduce", "broadcast", "all_gather", "barrier")


def timed(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    """``f``, adding its wall and CPU seconds to ``STEPS[name]``."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return f(*args, **kwargs)
        finally:
            step = STEPS.setdefault(name, [0.0, 0.0, 0])
            step[0] += time.perf_counter() - wall
            step[1] += time.process_time() - cpu
            step[2] += 1

    return wrapper


def install() -> None:
    """Wrap the steps, and the round program so that it writes its line."""
    import crypten.mpc.primitives.binary as binary
    import crypten.mpc.primitives.converters as converters
    import crypten.mpc.primitives.replicated as replicated

    import committees.party as party
    import mpcrec.secure.program as program
    import mpcrec.secure.validation as validation
    from committees.transport.communicator import TlsCommunicator

    for name in _VALIDATION:
        setattr(validation, name, timed(name, getattr(validation, name)))
    program.accept_bits = timed("accept_bits", validation.accept_bits)
    converters._A2B = timed("A2B", converters._A2B)
    replicated.replicate_shares = timed("replicate_shares", replicated.replicate_shares)
    binary.BinarySharedTensor.reveal = timed("binary_reveal", binary.BinarySharedTensor.reveal)
    binary.BinarySharedTensor.__and__ = timed("binary_and", binary.BinarySharedTensor.__and__)
    for name in _COMM:
        setattr(TlsCommunicator, name, timed(f"comm.{name}", getattr(TlsCommunicator, name)))
    aggregate = program.aggregate

    def recorded(spec: Any, shares: Any) -> Any:
        STEPS.clear()
        wall, cpu = time.perf_counter(), time.process_time()
        outcome = aggregate(spec, shares)
        line = {
            "pid": os.getpid(),
            "contributors": len(shares),
            "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu,
            "comm_rounds": outcome.comm_rounds,
            "steps": STEPS,
            "load_1min": os.getloadavg()[0],
        }
        with open(os.path.join(str(OUT), f"{os.getpid()}.jsonl"), "a") as out:
            out.write(json.dumps(line) + "\n")
        return outcome

    party.aggregate = recorded


_import = builtins.__import__
_installed = False


def _hook(name: str, *args: Any, **kwargs: Any) -> Any:
    """Install once ``committees.party`` has bound ``aggregate`` (any later import)."""
    global _installed
    module = _import(name, *args, **kwargs)
    party = sys.modules.get("committees.party")
    if not _installed and party is not None and hasattr(party, "aggregate"):
        _installed = True
        builtins.__import__ = _import
        install()
    return module


if OUT:
    builtins.__import__ = _hook
