"""``mpcrec demo``'s option checks: a combination the federation cannot run is refused before
anything starts, with a hint (no traceback, nothing left running)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def refused_demo(tmp_path: Path, *args: str) -> str:
    """Run ``mpcrec demo ARGS``; assert it exits 2 with a clear error (no traceback) before
    making its state directory, and return its standard error."""
    cmd = [sys.executable, "-m", "mpcrec.cli.app", "demo", *args]
    done = subprocess.run(
        [*cmd, "--state-dir", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists()  # refused before the state directory was made
    return done.stderr


def test_new_videos_with_a_model_that_does_not_grow_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    # Execute
    stderr = refused_demo(tmp_path, "--new-videos", "--model", "dpals")

    # Assert
    assert "only mf's model grows with the catalogue" in stderr


def test_publish_from_without_new_videos_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    stderr = refused_demo(tmp_path, "--publish-from", "4")
    assert "--publish-from 4: needs --new-videos" in stderr
