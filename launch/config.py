"""``federation.yaml``: how a launcher listens, where it keeps state, and the round rules.

Example::

    listen: 0.0.0.0:7443
    state_dir: state/launcher
    tls: {cert: pki/launcher.pem, key: pki/launcher.key, ca: pki/ca.pem}
    model: {n_items: 1682, dim: 32, aggregation: secure, server_lr: 1.0,
            server_momentum: 0.0, clip_norm: 10.0}
    rounds: {committee_size: 3, min_contributors: 3, cooldown: 2, dealer: false,
             commit_s: 10, reveal_s: 10, collect_s: 60, compute_s: 120}
    schedule: {rounds: 0, interval_s: 0, init_seed: 0, init_scale: 0.1}

Relative paths are relative to the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launch.launcher import Schedule
from launch.round import RoundPolicy
from mpcrec.errors import ConfigError
from mpcrec.federation.config_file import as_type, load_mapping, section, tls_paths
from mpcrec.federation.spec import FederationSpec
from mpcrec.pki import CertPaths

TOP = {"listen", "state_dir", "tls", "model", "rounds", "schedule"}


@dataclass(frozen=True)
class LauncherConfig:
    """A launcher's whole configuration."""

    listen: str
    state_dir: Path
    tls: CertPaths
    spec: FederationSpec
    policy: RoundPolicy
    schedule: Schedule

    @classmethod
    def load(cls, path: Path) -> LauncherConfig:
        """Read and check ``federation.yaml``."""
        data = load_mapping(path)
        unknown = sorted(set(data) - TOP)
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {unknown}", hint=f"known: {sorted(TOP)}")
        if "listen" not in data or "model" not in data:
            raise ConfigError(f"{path}: `listen` and `model` are required")
        return cls(
            listen=str(data["listen"]),
            state_dir=Path(path).parent / str(data.get("state_dir", "state/launcher")),
            tls=tls_paths(data, path),
            spec=_build(FederationSpec, data, "model", path),
            policy=_build(RoundPolicy, data, "rounds", path),
            schedule=_build(Schedule, data, "schedule", path),
        )


def _build(kind: Any, data: dict[str, Any], key: str, path: Path) -> Any:
    fields = {f.name: f for f in dataclasses.fields(kind)}
    found = section(data, key, path, set(fields))
    types = {"int": int, "float": float, "str": str, "bool": bool}
    values = {
        name: as_type(value, types[str(fields[name].type)], f"{key}.{name}", path)
        for name, value in found.items()
    }
    try:
        return kind(**values)
    except TypeError as err:
        raise ConfigError(f"{path}: `{key}`: {err}") from err
    except ConfigError as err:  # the value checks of the section's own type
        raise ConfigError(f"{path}: `{key}`: {err.message}", hint=err.hint) from err
