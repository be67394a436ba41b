"""The ``peertube:`` section of a node's YAML configuration: where PeerTube's database is.

Example::

    peertube:
      dsn: "host=/var/run/postgresql dbname=peertube_prod user=mpcrec_reader"
      settle_seconds: 30            # leave rows younger than this for the next read
      weights: {watch: 1.0, like: 2.0, playlist: 1.5}
      listen: 127.0.0.1:9090        # where the recommendation API listens
      api_secret_file: api.secret   # its shared secret (mode 0600), needed with listen

Read by :func:`mpcrec.federation.config_file.load_section` (``mpcrec peertube check``) or
as part of ``node.yaml`` (:class:`mpcrec.node.config.NodeConfig`). The password belongs in
``~/.pgpass`` (or ``PGPASSFILE``) of the user running the node, not in this file: libpq
reads it from there. ``dsn`` may also be left out, libpq then uses
``PGHOST``, ``PGDATABASE``, ``PGUSER``... from the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mpcrec.data.peertube_log import SignalWeights
from mpcrec.errors import ConfigError

DEFAULT_LISTEN = "127.0.0.1:9090"


@dataclass(frozen=True)
class PeerTubeSettings:
    """How a node reads its PeerTube and serves recommendations.

    Parameters
    ----------
    dsn:
        libpq connection string (``""``: libpq's environment).
    settle_seconds:
        Rows younger than this are left for the next read.
    weights:
        Which signals train.
    listen:
        ``HOST:PORT`` of the recommendation API the node serves itself; ``None``: the node
        serves none (it writes ``snapshot.npz`` for ``mpcrec serve``).
    api_secret_file:
        The file holding the API's shared secret (:mod:`mpcrec.node.api_auth`); required
        with ``listen``, relative to the config file.
    """

    dsn: str = ""
    settle_seconds: float = 30.0
    weights: SignalWeights = field(default_factory=SignalWeights)
    listen: str | None = None
    api_secret_file: Path | None = None

    def __post_init__(self) -> None:
        w = self.weights
        if min(w.watch, w.like, w.playlist) < 0:
            raise ConfigError(f"weights must not be negative, got {w}")
        if self.settle_seconds < 0:
            raise ConfigError(f"settle_seconds must be >= 0, got {self.settle_seconds}")
        _address(self.listen or DEFAULT_LISTEN)
        if self.listen is not None and self.api_secret_file is None:
            raise ConfigError(
                "listen needs api_secret_file: the API is authenticated",
                hint="api_secret_file: api.secret, a file of mode 0600 with a random secret "
                "(docs/peertube.md)",
            )

    @property
    def api_secret_path(self) -> Path:
        """The API secret's file (a :class:`ConfigError` when the section names none)."""
        if self.api_secret_file is None:
            raise ConfigError("peertube.api_secret_file is not set", hint="api_secret_file: ...")
        return self.api_secret_file

    @property
    def listen_host(self) -> str:
        """Where the recommendation API listens (host)."""
        return _address(self.listen or DEFAULT_LISTEN)[0]

    @property
    def listen_port(self) -> int:
        """Where the recommendation API listens (port)."""
        return _address(self.listen or DEFAULT_LISTEN)[1]


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdecimal() or not 0 < int(port) < 65536:
        raise ConfigError(f"listen must be HOST:PORT, got {value!r}", hint="e.g. 127.0.0.1:9090")
    return host, int(port)
