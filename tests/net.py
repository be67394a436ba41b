"""Loopback ports for tests that start servers, reserved for the whole test run.

:func:`mpcrec.loopback.free_loopback_port` checks that a port binds *now*. A test often binds
it much later: a node's ``mpc_address`` is bound only while the node sits on a committee,
round after round, so between rounds it is free, and a test on the other xdist worker could
be handed it, bind it, and abort that round ("address already in use"). Every port handed
out here is therefore also reserved, as a file created exclusively in one directory shared
by every process of the run (``tests/conftest.py`` names it in :data:`PORTS_ENV` before the
xdist workers start; they and the processes the tests start inherit it, and the run removes
it at its end): no two tests of one run are handed the same port.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mpcrec.loopback import free_loopback_port

#: The environment variable naming the run's reservation directory.
PORTS_ENV = "MPCREC_TEST_PORTS"
_ATTEMPTS = 200


def reservations() -> Path:
    """This run's reservation directory (one per process outside a pytest run)."""
    named = os.environ.get(PORTS_ENV)
    if named:
        return Path(named)
    return Path(tempfile.gettempdir()) / f"mpcrec-test-ports-pid-{os.getpid()}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, drawn below the kernel's ephemeral
    range (so no outgoing connection takes it meanwhile) and handed to no other test of
    this run."""
    folder = reservations()
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(_ATTEMPTS):
        port = free_loopback_port()
        try:
            (folder / str(port)).touch(exist_ok=False)  # O_CREAT | O_EXCL: one owner
        except FileExistsError:
            continue
        return port
    raise RuntimeError(f"no free port left unreserved after {_ATTEMPTS} draws (see {folder})")
