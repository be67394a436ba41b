"""Bit-for-bit determinism across processes: a digest function run afresh under other BLAS
thread counts (which change the order of a BLAS reduction) must print the same digest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BLAS_THREADS = ("1", "2")


def digests_across_blas_threads(
    module: str, function: str, *, threads: tuple[str, ...] = BLAS_THREADS
) -> set[str]:
    """The digests ``module.function()`` prints in one fresh process per thread count.

    Parameters
    ----------
    module
        Dotted name of the module holding the digest function (e.g.
        ``"tests.model.test_dpals_smooth"``); it is imported from this repository.
    function
        Name of a function of no arguments that returns the digest as a string.
    threads
        The BLAS thread counts, one process each (``OMP``, ``OPENBLAS`` and ``MKL`` alike).

    Returns
    -------
    set[str]
        The distinct digests seen: one element when every process agreed.
    """
    script = f"from {module} import {function} as digest; print(digest())"
    seen = set()
    for count in threads:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "OMP_NUM_THREADS": count,
            "OPENBLAS_NUM_THREADS": count,
            "MKL_NUM_THREADS": count,
        }
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            env=env,
            check=True,
        )
        seen.add(done.stdout.strip())
    return seen
