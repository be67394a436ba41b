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
    privacy: {epsilon_budget: 8.0, delta: 1.0e-5, unit: instance}

Relative paths are relative to the file. Without ``privacy.epsilon_budget`` (or with it
``null``) the federation makes no differential-privacy promise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launch.round import RoundPolicy
from launch.schedule import Schedule
from mpcrec.crypto.pki import CertPaths
from mpcrec.errors import ConfigError
from mpcrec.federation.config_file import as_type, load_mapping, section, tls_paths
from mpcrec.federation.spec import SAMPLE_RATE, FederationSpec, PrivacyPromise
from mpcrec.privacy.budget import epsilon_spent, rounds_within_budget

TOP = {"listen", "state_dir", "tls", "model", "rounds", "schedule", "privacy"}


@dataclass(frozen=True)
class LauncherConfig:
    """A launcher's whole configuration."""

    listen: str
    state_dir: Path
    tls: CertPaths
    spec: FederationSpec
    policy: RoundPolicy
    schedule: Schedule
    privacy: PrivacyPromise = field(default_factory=PrivacyPromise)

    @classmethod
    def load(cls, path: Path) -> LauncherConfig:
        """Read and check ``federation.yaml``."""
        data = load_mapping(path)
        unknown = sorted(set(data) - TOP)
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {unknown}", hint=f"known: {sorted(TOP)}")
        if "listen" not in data or "model" not in data:
            raise ConfigError(f"{path}: `listen` and `model` are required")
        config = cls(
            listen=str(data["listen"]),
            state_dir=Path(path).parent / str(data.get("state_dir", "state/launcher")),
            tls=tls_paths(data, path),
            spec=_build(FederationSpec, data, "model", path),
            policy=_build(RoundPolicy, data, "rounds", path),
            schedule=_build(Schedule, data, "schedule", path),
            privacy=_build(PrivacyPromise, data, "privacy", path),
        )
        config.check_privacy(path)
        return config

    def check_privacy(self, path: Path) -> None:
        """Refuse a declared budget the configuration cannot keep for a single round."""
        budget, spec = self.privacy.epsilon_budget, self.spec
        if budget is None:
            return
        if spec.aggregation != "secure":
            raise ConfigError(
                f"{path}: `privacy.epsilon_budget` {budget:g} with `model.aggregation` "
                f"{spec.aggregation!r}: committee members see every update and the noise "
                "comes from the public round seed, so no differential privacy holds",
                hint="use `aggregation: secure`, or leave `epsilon_budget` out",
            )
        mechanism = (spec.noise_multiplier, SAMPLE_RATE)
        if not rounds_within_budget([], mechanism, delta=self.privacy.delta, budget=budget):
            one = epsilon_spent([mechanism], delta=self.privacy.delta)
            raise ConfigError(
                f"{path}: `privacy.epsilon_budget` {budget:g} cannot pay for a single round: "
                f"`model.noise_multiplier` {spec.noise_multiplier:g} spends epsilon {one:.3f} "
                f"per round at delta {self.privacy.delta:g}",
                hint="raise `model.noise_multiplier` (mpcrec.privacy.accountant."
                "gaussian_noise_multiplier finds one for a budget and a number of rounds) "
                "or the budget",
            )


def _build(kind: Any, data: dict[str, Any], key: str, path: Path) -> Any:
    fields = {f.name: f for f in dataclasses.fields(kind)}
    found = section(data, key, path, set(fields))
    types = {"int": int, "float": float, "str": str, "bool": bool, "float | None": float}
    values = {
        name: None
        if value is None and str(fields[name].type).endswith("| None")
        else as_type(value, types[str(fields[name].type)], f"{key}.{name}", path)
        for name, value in found.items()
    }
    try:
        return kind(**values)
    except TypeError as err:
        raise ConfigError(f"{path}: `{key}`: {err}") from err
    except ConfigError as err:  # the value checks of the section's own type
        raise ConfigError(f"{path}: `{key}`: {err.message}", hint=err.hint) from err
