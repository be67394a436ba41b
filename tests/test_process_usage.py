"""What processes use, read from /proc: one process, its tree, and the peak of a tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mpcrec.process_usage import MIB, PeakMemory, tree_of, usage_of

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")

HOLD = (
    "import sys, time; block = bytearray({mib} << 20); sys.stdout.write('held\\n'); "
    "sys.stdout.flush(); time.sleep(30)"
)


def _holding(mib: int) -> subprocess.Popen[str]:
    """A child process that holds ``mib`` MiB resident (a touched bytearray) until killed."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD.format(mib=mib)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    return child


def test_a_process_reads_its_own_memory_threads_and_files(tmp_path: Path) -> None:
    # Prepare
    before = usage_of(os.getpid())

    # Execute
    with open(tmp_path / "f", "w"):
        during = usage_of(os.getpid())

    # Assert
    assert before is not None and during is not None
    assert before.rss_bytes > MIB and before.threads >= 1
    assert during.open_files == before.open_files + 1


def test_an_exited_process_has_no_usage() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert usage_of(child.pid) is None


@pytest.mark.timeout(60)
def test_the_tree_holds_children_and_the_peak_counts_their_memory() -> None:
    # Prepare
    child = _holding(64)
    try:
        # Execute
        tree = tree_of([os.getpid()])
        peak = PeakMemory(lambda: [child.pid], interval_s=0.05)
        with peak:
            pass

        # Assert
        assert tree[0] == os.getpid() and child.pid in tree
        assert peak.peak_bytes >= 64 * MIB
        assert peak.to_json()["peak_processes"] == 1
    finally:
        child.kill()
        child.wait()
    assert child.pid not in tree_of([os.getpid()])
