"""``node.yaml``: who the instance is, where its launcher is, how it trains and serves MPC.

Example::

    instance_id: tube-a
    launcher: launcher.example.org:7443
    mpc_address: 203.0.113.5:7600     # where this instance's committee party listens
    state_dir: state/tube-a           # keys live here (mode 0600)
    tls: {cert: pki/tube-a.pem, key: pki/tube-a.key, ca: pki/ca.pem}
    trainer: {kind: movielens, index: 0, instances: 20, seed: 0, rounds: 200}
    # or train on the instance's PeerTube (docs/peertube.md):
    # trainer: {kind: peertube, catalogue: catalogue.txt, rounds: 200, seed: 0}
    # peertube: {dsn: "dbname=peertube_prod user=mpcrec_reader", listen: 127.0.0.1:9090}
    mpc_timeout_s: 60                 # bound on any committee step (join, one message)
    faults: {member_delay_s: 0, skip_clip: false}  # test knobs; leave out in deployments
    witness:                          # the log's heads, exchanged without the launcher
      listen: 0.0.0.0:7610            # serve this node's cosigned head at GET /tree-head
      peers: [http://tube-b.example.org:7610, /srv/shared/tube-c/witnessed_head.json]
    beacon: {chain_info: drand-chain.json}  # the federation's beacon chain, pinned: commit
                                      # and reveal only while the bound round is ahead

Relative paths are relative to the file. With ``peertube.listen`` the node serves the
recommendation API itself (:class:`~mpcrec.node.http_api.ApiServer`). The file is read by
:func:`mpcrec.federation.config_file.load_config`; each trainer has its own typed section
(:class:`DriftTrainerConfig`, :class:`MovieLensTrainerConfig`,
:class:`PeerTubeTrainerConfig`), chosen by ``trainer.kind``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mpcrec.crypto.pki import CertPaths
from mpcrec.data.peertube_settings import PeerTubeSettings
from mpcrec.errors import ConfigError
from mpcrec.federation.config_file import build_config, read_mapping
from mpcrec.node.beacon_check import NodeBeacon


@dataclass(frozen=True)
class DriftTrainerConfig:
    """``trainer: {kind: drift}``: the deterministic stand-in of runtime tests
    (:class:`~mpcrec.node.trainer.DriftTrainer`)."""

    kind: Literal["drift"] = "drift"
    rate: float = 0.5
    weight: float = 1.0
    scale: float = 1.0


@dataclass(frozen=True)
class MovieLensTrainerConfig:
    """``trainer: {kind: movielens}``: shard ``index`` of ``instances`` of ML-100k
    (:class:`~mpcrec.node.movielens_trainer.MovieLensTrainer`, ``mpcrec demo``)."""

    kind: Literal["movielens"]
    index: int
    instances: int
    seed: int = 0
    rounds: int = 200

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.instances:
            raise ConfigError(
                f"index {self.index} is not a shard of {self.instances} instances",
                hint="index counts from 0 to instances - 1",
            )


@dataclass(frozen=True)
class PeerTubeTrainerConfig:
    """``trainer: {kind: peertube}``: the instance's own PeerTube
    (:class:`~mpcrec.node.peertube_trainer.PeerTubeTrainer`)."""

    kind: Literal["peertube"]
    catalogue: Path = field(
        metadata={"hint": "catalogue: catalogue.txt, the file the federation's operator publishes"}
    )
    catalogue_sha256: str = ""
    seed: int = 0
    rounds: int = 200


TrainerConfig = DriftTrainerConfig | MovieLensTrainerConfig | PeerTubeTrainerConfig
SERVING = (MovieLensTrainerConfig, PeerTubeTrainerConfig)  # trainers that serve users


@dataclass(frozen=True)
class Faults:
    """``faults:``: test knobs, left out in deployments."""

    member_delay_s: float = 0.0
    skip_clip: bool = False


@dataclass(frozen=True)
class WitnessConfig:
    """``witness:``: where this node serves its cosigned tree head (``listen``, off when
    unset) and the other nodes whose heads it compares with its own at every round's end
    (``peers``: ``http://host:port`` of their witness servers, or paths of their
    ``witnessed_head.json``; see :mod:`mpcrec.node.log_watch`)."""

    listen: str | None = None
    peers: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeConfig:
    """A node's whole configuration (the module docstring shows the file)."""

    instance_id: str
    launcher: str
    mpc_address: str
    state_dir: Path
    tls: CertPaths = field(
        metadata={"hint": "tls: {cert, key, ca}; `mpcrec pki` makes a local CA and certificates"}
    )
    trainer: TrainerConfig = field(default_factory=DriftTrainerConfig)
    faults: Faults = field(default_factory=Faults)
    mpc_timeout_s: float = 60.0
    peertube: PeerTubeSettings | None = None
    witness: WitnessConfig = field(default_factory=WitnessConfig)
    beacon: NodeBeacon = field(default_factory=NodeBeacon)

    def __post_init__(self) -> None:
        kind = self.trainer.kind
        if kind == "peertube" and self.peertube is None:
            raise ConfigError(
                "trainer kind 'peertube' needs a `peertube:` section",
                hint="peertube: {dsn: ..., listen: 127.0.0.1:9090} (see docs/peertube.md)",
            )
        if self.serve_http and not isinstance(self.trainer, SERVING):
            raise ConfigError(
                f"peertube.listen needs a trainer that serves users, not {kind!r}",
                hint="trainer kind: movielens or peertube",
            )

    @property
    def member_delay_s(self) -> float:
        """Seconds a committee member waits before computing (``faults``)."""
        return self.faults.member_delay_s

    @property
    def skip_clip(self) -> bool:
        """Whether the node uploads its update unclipped (``faults``)."""
        return self.faults.skip_clip

    @property
    def serve_http(self) -> bool:
        """Whether the node serves recommendations itself (``peertube.listen`` given)."""
        return self.peertube is not None and self.peertube.listen is not None

    @classmethod
    def load(cls, path: Path) -> NodeConfig:
        """Read and check ``node.yaml`` (``state_dir`` defaults to ``state/INSTANCE_ID``)."""
        data = read_mapping(path)
        if "state_dir" not in data and "instance_id" in data:
            data["state_dir"] = f"state/{data['instance_id']}"
        return build_config(cls, data, path=path)
