"""``mpcrec demo``'s option checks: a combination the federation cannot run is refused before
anything starts, with a hint (no traceback, nothing left running)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_new_videos_with_a_model_that_does_not_grow_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    # Execute
    cmd = [sys.executable, "-m", "mpcrec.cli.app", "demo", "--new-videos", "--model", "dpals"]
    done = subprocess.run(
        [*cmd, "--state-dir", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # Assert
    assert done.returncode == 2, done.stderr[-2000:]
    assert "only mf's model grows with the catalogue" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists()  # refused before the state directory was made


def test_publish_from_without_new_videos_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    cmd = [sys.executable, "-m", "mpcrec.cli.app", "demo", "--publish-from", "4"]
    done = subprocess.run(
        [*cmd, "--state-dir", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "--publish-from 4: needs --new-videos" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists()
