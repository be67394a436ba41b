"""Fixtures shared by every test package: free ports, temp dirs, environment hygiene."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest

from tests.net import PORTS_ENV, free_port

# The PostgreSQL fixtures (a throwaway cluster with PeerTube's schema) serve the data, node,
# CLI and system tests alike.
from tests.postgres import peertube_db, pg_cluster  # noqa: F401

# One torch thread per test process: the machine has 2 cores and xdist runs 2 workers.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# One port reservation directory for the whole run (tests/net.py): named here, in the
# controller, before the xdist workers start, so that they and every process the tests
# start inherit it; removed at the end by the run that named it.
_NAMED_HERE = PORTS_ENV not in os.environ
os.environ.setdefault(
    PORTS_ENV, os.path.join(tempfile.gettempdir(), f"mpcrec-test-ports-{uuid.uuid4().hex}")
)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run has ended (the controller, or a run without xdist): forget its ports."""
    if _NAMED_HERE and not hasattr(config, "workerinput"):
        shutil.rmtree(os.environ[PORTS_ENV], ignore_errors=True)


@pytest.fixture
def port() -> int:
    """A free TCP port on loopback."""
    return free_port()
