"""The fault matrix (``mpcrec bench faults``) on a real federation: a fault fired when a
round enters a phase, then the invariants and the auditor's rules, and a publish again.

CI runs two cells on one federation (93 s at load 5, 225 s at load 28): ``disk-full`` at
``computing`` (the launcher's store refuses every write for 6 s and must lose nothing it
acknowledged, then carry on by itself) and ``kill-launcher`` at ``signing`` (a restart on
the same store with member results in flight: the members must resend them). They are the
two cells whose faults found bugs (docs/benchmarks/faults.md). ``MPCREC_FAULT_MATRIX=1``
runs every fault at every phase, one federation per fault (about 2 hours).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mpcrec.bench.fault_cells import FAULTS, PHASES, Cell
from mpcrec.bench.fault_federation import can_run
from mpcrec.bench.faults import run_federation

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("fault-matrix"),
    pytest.mark.skipif(bool(can_run()), reason=can_run() or "can run"),
]
FULL = os.environ.get("MPCREC_FAULT_MATRIX") == "1"


def _explain(cells: list[Cell]) -> str:
    return "\n".join(
        f"{c.fault}@{c.phase}: {c.status} round {c.round_id} victim {c.victim} "
        f"recovery {c.recovery_s} violations {c.violations} findings {c.findings} {c.note}"
        for c in cells
    )


@pytest.mark.timeout(420)
def test_ci_cells_recover_with_every_invariant(tmp_path: Path) -> None:
    cells = run_federation(tmp_path, [("disk-full", "computing"), ("kill-launcher", "signing")])

    assert [c.status for c in cells] == ["green", "green"], _explain(cells)
    assert all(c.round_id and c.recovery_s is not None for c in cells)


@pytest.mark.skipif(not FULL, reason="the full matrix: MPCREC_FAULT_MATRIX=1")
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_every_phase_of_one_fault(tmp_path: Path, fault: str) -> None:
    cells = run_federation(
        tmp_path, [(fault, phase) for phase in PHASES], dealer=FAULTS[fault].dealer
    )

    assert all(c.status == "green" for c in cells), _explain(cells)
