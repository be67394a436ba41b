"""Flower's SecAgg+ beside our round: runs ``benchmarks/flower_secaggplus.py`` in Flower's own
environment (``make flower-venv`` makes ``.venv-flower``) and returns its figures.

Flower is not a dependency of mpcrec (its pins of grpcio and protobuf are its own), so the
peer runs in another interpreter, in a subprocess, one round after ours on the same load.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from mpcrec.errors import UserError

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "flower_secaggplus.py"


def measure(python: Path, *, contributors: int, dim: int, repeats: int = 3) -> dict[str, Any]:
    """One warm-up and ``repeats`` timed SecAgg+ rounds of ``contributors`` x ``dim``."""
    if not Path(python).exists():
        raise UserError(
            f"no Python at {python} for Flower",
            hint="run `make flower-venv` (Flower 1.42 in .venv-flower), or leave out --flower",
        )
    cmd = [str(python), str(SCRIPT), f"--contributors={contributors}", f"--dim={dim}"]
    cmd.append(f"--repeats={repeats}")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        raise UserError(f"Flower's SecAgg+ round failed: {' | '.join(tail)}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
