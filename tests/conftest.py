"""Fixtures shared by every test package: free ports, temp dirs, environment hygiene."""

from __future__ import annotations

import os

import pytest

from tests.net import free_port

# The PostgreSQL fixtures (a throwaway cluster with PeerTube's schema) serve the data, node,
# CLI and system tests alike.
from tests.postgres import peertube_db, pg_cluster  # noqa: F401

# One torch thread per test process: the machine has 2 cores and xdist runs 2 workers.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture
def port() -> int:
    """A free TCP port on loopback."""
    return free_port()
