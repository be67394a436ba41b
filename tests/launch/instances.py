"""Instances registered with a launcher in-process, each with real keys and a signed entry."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from launch.launcher import Launcher
from mpcrec.audit import entries
from mpcrec.crypto.keys import NodeKeys


def register_instances(
    launcher: Launcher, tmp_path: Path, names: Sequence[str] = ("a", "b", "c")
) -> dict[str, NodeKeys]:
    """Register ``names`` (keys kept under ``tmp_path/NAME``, address ``NAME:1``)."""
    keys: dict[str, NodeKeys] = {}
    for name in names:
        keys[name] = NodeKeys.load_or_create(tmp_path / name)
        entry = entries.registration(
            instance_id=name,
            signing_key=keys[name].signing_public,
            sealing_key=keys[name].sealing_public,
            address=f"{name}:1",
        )
        signature = entry.sign(keys[name].signing).signature
        launcher.register(
            name, keys[name].signing_public, keys[name].sealing_public, f"{name}:1", signature
        )
    return keys
