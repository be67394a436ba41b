"""The ``peertube:`` section of a node's YAML configuration: where PeerTube's database is.

Example::

    peertube:
      dsn: "host=/var/run/postgresql dbname=peertube_prod user=mpcrec_reader"
      settle_seconds: 30            # leave rows younger than this for the next read
      weights: {watch: 1.0, like: 2.0, playlist: 1.5}
      listen: 127.0.0.1:9090        # where the recommendation API listens

The password belongs in ``~/.pgpass`` (or ``PGPASSFILE``) of the user running the node,
not in this file: libpq reads it from there. ``dsn`` may also be left out, libpq then uses
``PGHOST``, ``PGDATABASE``, ``PGUSER``... from the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mpcrec.data.peertube_log import SignalWeights
from mpcrec.errors import ConfigError

KEYS = {"dsn", "settle_seconds", "weights", "listen"}
WEIGHT_KEYS = {"watch", "like", "playlist"}


@dataclass(frozen=True)
class PeerTubeSettings:
    """How a node reads its PeerTube and serves recommendations."""

    dsn: str = ""
    settle_seconds: float = 30.0
    weights: SignalWeights = field(default_factory=SignalWeights)
    listen_host: str = "127.0.0.1"
    listen_port: int = 9090

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str) -> PeerTubeSettings:
        """Check and read a ``peertube:`` mapping; ``where`` names it in errors."""
        unknown = sorted(set(data) - KEYS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown setting(s) {unknown}", hint=f"known: {sorted(KEYS)}"
            )
        raw_weights = data.get("weights") or {}
        if not isinstance(raw_weights, Mapping) or set(raw_weights) - WEIGHT_KEYS:
            raise ConfigError(
                f"{where}: weights must map {sorted(WEIGHT_KEYS)} to numbers, got {raw_weights!r}"
            )
        weights = SignalWeights(
            **{k: _number(v, f"weights.{k}", where) for k, v in raw_weights.items()}
        )
        if min(weights.watch, weights.like, weights.playlist) < 0:
            raise ConfigError(f"{where}: weights must not be negative, got {raw_weights!r}")
        host, port = _address(str(data.get("listen", "127.0.0.1:9090")), where)
        settle = _number(data.get("settle_seconds", 30.0), "settle_seconds", where)
        if settle < 0:
            raise ConfigError(f"{where}: settle_seconds must be >= 0, got {settle}")
        return cls(
            dsn=str(data.get("dsn", "")),
            settle_seconds=settle,
            weights=weights,
            listen_host=host,
            listen_port=port,
        )

    @classmethod
    def load(cls, path: Path) -> PeerTubeSettings:
        """Read the ``peertube:`` section of a YAML file (other sections are ignored)."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as err:
            raise ConfigError(f"cannot read {path}: {err.strerror or err}") from err
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from err
        section = data.get("peertube") if isinstance(data, Mapping) else None
        if not isinstance(section, Mapping):
            raise ConfigError(
                f"{path} has no 'peertube:' section",
                hint="see docs/peertube.md for an example",
            )
        return cls.from_mapping(section, f"{path}: peertube")


def _number(value: object, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}: {name} must be a number, got {value!r}")
    return float(value)


def _address(value: str, where: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdecimal() or not 0 < int(port) < 65536:
        raise ConfigError(
            f"{where}: listen must be HOST:PORT, got {value!r}", hint="e.g. 127.0.0.1:9090"
        )
    return host, int(port)
