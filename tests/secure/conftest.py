"""Shared pieces of the secure-round tests: sharing updates among members, a live committee."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from committees.local_committee import LocalCommittee
from committees.session import SessionSettings
from mpcrec.crypto.codec import encode
from mpcrec.crypto.sharing import expand_seed, split


def member_shares(updates: Sequence[np.ndarray], k: int = 3) -> list[list[np.ndarray]]:
    """Split each update (real values or, if int64, already encoded) into k member shares."""
    out: list[list[np.ndarray]] = [[] for _ in range(k)]
    for update in updates:
        enc = update if update.dtype == np.int64 else encode(update)
        first, seeds = split(enc, k)
        out[0].append(first)
        for j, seed in enumerate(seeds, start=1):
            out[j].append(expand_seed(seed, enc.size))
    return out


@pytest.fixture(scope="module")
def replicated_committee() -> Iterator[LocalCommittee]:
    """Three warm members, replicated protocol, shared by a module's tests."""
    with LocalCommittee(3, SessionSettings(protocol="replicated", timeout_s=60)) as committee:
        yield committee
