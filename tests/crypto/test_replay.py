"""The replay registry: nonces survive a restart; old rounds are pruned behind a floor."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpcrec.crypto.replay import NonceRegistry
from mpcrec.errors import ProtocolError

NONCE = b"\x01" * 16


def test_a_restarted_member_still_refuses_a_replayed_nonce(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "replays.sqlite"
    seen = NonceRegistry(path)
    seen.enter_round(7)
    seen.add("tube-a", NONCE)
    seen.close()

    # Execute
    restarted = NonceRegistry(path)
    restarted.enter_round(7)  # the launcher hands the same round to the restarted member

    # Assert
    assert ("tube-a", NONCE) in restarted
    with pytest.raises(ProtocolError, match="replayed envelope"):
        restarted.add("tube-a", NONCE)
    restarted.add("tube-b", NONCE)  # a nonce is per contributor


def test_entering_a_round_forgets_older_rounds_and_refuses_them_for_good(tmp_path: Path) -> None:
    # Prepare
    path = tmp_path / "replays.sqlite"
    seen = NonceRegistry(path)
    seen.enter_round(3)
    seen.add("tube-a", NONCE)
    seen.add("tube-b", NONCE)

    # Execute
    seen.enter_round(4)
    seen.add("tube-c", NONCE)
    seen.close()
    restarted = NonceRegistry(path)

    # Assert: round 3's nonces are gone, and so is any way back to round 3
    assert len(restarted) == 1 and ("tube-c", NONCE) in restarted
    with pytest.raises(ProtocolError, match="never computes an earlier round"):
        restarted.enter_round(3)
    restarted.enter_round(4)
    with pytest.raises(ProtocolError, match="replayed envelope"):
        restarted.add("tube-c", NONCE)


def test_without_a_path_the_registry_lives_in_memory() -> None:
    seen = NonceRegistry()
    seen.add("tube-a", NONCE)
    assert ("tube-a", NONCE) in seen and len(seen) == 1
    assert NonceRegistry().floor is None
