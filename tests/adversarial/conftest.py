"""Fixtures of the adversarial tests: one hostile federation per test, under ``tmp_path``
(free ports from tests/net.py), every process killed by its pid at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adversarial.harness import HostileFederation

NODES4 = [f"tube-{i}" for i in range(4)]
NODES5 = [f"tube-{i}" for i in range(5)]


@pytest.fixture
def fed4(tmp_path: Path) -> Iterator[HostileFederation]:
    with HostileFederation(tmp_path, list(NODES4)) as fed:
        yield fed


@pytest.fixture
def fed5(tmp_path: Path) -> Iterator[HostileFederation]:
    with HostileFederation(tmp_path, list(NODES5)) as fed:
        yield fed
