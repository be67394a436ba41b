"""Private key files against another local user, who is a real process (uid 65534, the
``nobody`` of most systems) on the same machine:

* the key the real launcher made for its signatures is its owner's alone: the other user's
  process cannot read it, while it reads a public file beside it (the positive control:
  the directories are open to it, so only the key's own mode stops it);
* a launcher whose signing key others may read (mode 0644), or that another user owns,
  refuses to start: exit 2, the reason and the fix in its log, nothing listening
  (``mpcrec.crypto.key_file.check_private``; with that check off the launcher starts on
  either key and serves).

Needs root (to be the other user); skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpcrec.crypto.keys import SIGNING_FILE
from tests.system.federation import Federation

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root"),
]

OTHER_UID = 65534
MODEL = {"n_items": 6, "dim": 2, "aggregation": "plaintext", "clip_norm": 20.0}
RULES = {"committee_size": 3, "min_contributors": 3, "cooldown": 1}


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory any local user may enter (pytest's own temp dirs are root's alone, which
    would stop the other user before any key's mode could)."""
    path = Path(tempfile.mkdtemp(prefix="mpcrec-key-files-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _read_as_other_user(path: Path) -> bool:
    """Whether a process of another user (``cat``: the venv's python lives in root's home,
    which that user cannot enter) reads ``path``; a denial must say so."""

    def become_other() -> None:
        os.setgid(OTHER_UID)
        os.setuid(OTHER_UID)

    done = subprocess.run(
        [shutil.which("cat") or "/bin/cat", str(path)],
        preexec_fn=become_other,
        capture_output=True,
        timeout=30,
        check=False,
    )
    if done.returncode:
        assert b"Permission denied" in done.stderr, done.stderr
    return done.returncode == 0


def _wait_listening(federation: Federation, proc: subprocess.Popen[bytes]) -> None:
    """Until the launcher accepts connections on its address (it made its keys before)."""
    host, port = federation.launcher_address.rsplit(":", 1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, federation.log("launcher")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the launcher never listened: {federation.log('launcher')}")


def _refused_start(federation: Federation) -> str:
    """The log of a launcher start that must be refused (exit 2, never listening)."""
    proc = federation.start("launcher")
    assert proc.wait(timeout=60) == 2, federation.log("launcher")
    return federation.log("launcher")


@pytest.mark.timeout(180)
def test_another_user_cannot_read_the_launchers_key_and_a_loose_key_stops_the_launcher(
    open_dir: Path,
) -> None:
    with Federation(open_dir, ["tube-0", "tube-1", "tube-2"]) as federation:
        federation.write(model=MODEL, rounds=RULES, schedule={"rounds": 1}, with_beacon=False)
        for path in [open_dir, *open_dir.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)  # every directory open: only a file's own mode protects it
        public = open_dir / "federation.yaml"
        public.chmod(0o644)
        key = open_dir / "launcher" / "keys" / SIGNING_FILE
        proc = federation.start("launcher")
        _wait_listening(federation, proc)
        assert key.exists()
        federation.kill("launcher")
        proc.wait(timeout=30)

        assert _read_as_other_user(public)  # the control: it gets this far
        assert not _read_as_other_user(key)

        key.chmod(0o644)
        assert _read_as_other_user(key)  # what a loose key gives away
        log = _refused_start(federation)
        assert f"private key file {key} has mode 0644" in log
        assert f"chmod 600 {key}" in log and "Traceback" not in log

        key.chmod(0o600)
        os.chown(key, OTHER_UID, OTHER_UID)
        log = _refused_start(federation)
        assert f"is owned by uid {OTHER_UID}, not by this user (uid 0)" in log
