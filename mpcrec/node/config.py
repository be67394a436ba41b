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
    committee: {warm_seat: false}     # true: keep the CrypTen party running between draws
    faults: {member_delay_s: 0, skip_clip: false}  # test knobs; leave out in deployments
    privacy_floor:                    # the least this node takes part in (these defaults)
      allow_plaintext: false          # true: also plaintext rounds (no privacy at all)
      min_range_ratio: 13.0           # wrap guard on, range_bound >= 13 * clip_norm
      min_contributors: 3
      min_noise_multiplier: 0.0
      max_normalised_weight: 0.5      # no contributor above half the aggregate
      allow_model_reuse: false        # true: contribute twice to one base model version
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
    (:class:`~mpcrec.node.movielens_trainer.MovieLensTrainer`, ``mpcrec demo``); with
    ``model: dpals``, DP-ALS (:class:`~mpcrec.node.dpals_trainer.MovieLensDPALSTrainer`)."""

    kind: Literal["movielens"]
    index: int
    instances: int
    seed: int = 0
    rounds: int = 200
    model: Literal["mf", "dpals", "seqrec"] = "mf"  # mpcrec.node.dpals_trainer, seqrec_trainer
    publish_every: int = 0  # > 0: publishes videos (mpcrec.node.movielens_catalogue)
    publish_from: int = 0  # the first batch once model publish_from + publish_every is seen

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.instances:
            raise ConfigError(
                f"index {self.index} is not a shard of {self.instances} instances",
                hint="index counts from 0 to instances - 1",
            )
        if self.publish_from < 0:
            raise ConfigError(
                f"publish_from {self.publish_from} is negative",
                hint="publish_from counts published models before the first batch (>= 0)",
            )


@dataclass(frozen=True)
class PeerTubeTrainerConfig:
    """``trainer: {kind: peertube}``: the instance's own PeerTube
    (:class:`~mpcrec.node.peertube_trainer.PeerTubeTrainer`)."""

    kind: Literal["peertube"]
    catalogue: Path | None = field(
        default=None,
        metadata={
            "hint": "catalogue: catalogue.txt, the file the federation's operator publishes; "
            "leave it out to use the catalogue this node verified (docs/catalogue.md)"
        },
    )
    catalogue_sha256: str = ""
    seed: int = 0
    rounds: int = 200
    model: Literal["mf", "seqrec"] = "mf"  # seqrec: mpcrec.node.peertube_seqrec


TrainerConfig = DriftTrainerConfig | MovieLensTrainerConfig | PeerTubeTrainerConfig
SERVING = (MovieLensTrainerConfig, PeerTubeTrainerConfig)  # trainers that serve users


@dataclass(frozen=True)
class Faults:
    """``faults:``: test knobs, left out in deployments."""

    member_delay_s: float = 0.0
    skip_clip: bool = False


@dataclass(frozen=True)
class PrivacyFloor:
    """``privacy_floor:``: the weakest round this node contributes to or computes
    (:mod:`mpcrec.node.floor` checks it; docs/operations.md explains each setting).

    Attributes
    ----------
    allow_plaintext:
        Take part in ``aggregation: plaintext`` rounds (members see every update): the named
        opt-out, for tests and baselines only.
    min_range_ratio:
        The wrap guard must be on with ``range_bound >= min_range_ratio * clip_norm``
        (13: honest rejections below 1e-7, docs/secure-round.md section 5); ``0`` also
        accepts rounds without it (the named opt-out).
    min_contributors:
        Fewest accepted contributions this node lets a round publish (it enforces the larger
        of this and the signed parameters' minimum itself, as a member).
    min_noise_multiplier:
        Least ``z`` (replace-one, instance level) of a round's noise; a user-level round's
        instance-level multiplier is ``z * user_clip_norm / (2 * clip_norm)``.
    max_normalised_weight:
        Most any contributor's weight may be of the round's total.
    allow_model_reuse:
        Contribute again to a base model version this node already contributed to in a round
        that reached computing (the named opt-out: the difference of two revealed models
        can then be its update; docs/threat-model.md).
    require_user_level:
        Refuse rounds whose unit of privacy is not one user (``floor-user-dp``).
    min_user_noise_multiplier:
        Least user-level ``z`` of a user-level round (``floor-user-dp``).
    max_user_epsilon, user_delta:
        Most ε (at ``user_delta``) this node lets its own users spend over the user-level
        rounds it contributed to, counted by the node itself (:mod:`mpcrec.node.user_dp`);
        ``None``: no cap of its own.
    """

    allow_plaintext: bool = False
    min_range_ratio: float = 13.0
    min_contributors: int = 3
    min_noise_multiplier: float = 0.0
    max_normalised_weight: float = 0.5
    allow_model_reuse: bool = False
    require_user_level: bool = False
    min_user_noise_multiplier: float = 0.0
    max_user_epsilon: float | None = None
    user_delta: float = 1e-5

    def __post_init__(self) -> None:
        if self.min_range_ratio < 0 or self.min_noise_multiplier < 0 or self.min_contributors < 1:
            raise ConfigError(
                f"privacy_floor: min_range_ratio {self.min_range_ratio}, min_noise_multiplier "
                f"{self.min_noise_multiplier}, min_contributors {self.min_contributors}",
                hint="ratios and noise >= 0, min_contributors >= 1",
            )
        if not 0 < self.max_normalised_weight <= 1:
            raise ConfigError(
                f"privacy_floor: max_normalised_weight {self.max_normalised_weight} must be in "
                "(0, 1]",
                hint="0.5: no contributor makes up more than half of the aggregate",
            )
        cap = self.max_user_epsilon
        if (
            self.min_user_noise_multiplier < 0
            or (cap is not None and not cap > 0)
            or not 0 < self.user_delta < 1
        ):
            raise ConfigError(
                f"privacy_floor: min_user_noise_multiplier {self.min_user_noise_multiplier}, "
                f"max_user_epsilon {cap}, user_delta {self.user_delta}",
                hint="noise >= 0, max_user_epsilon > 0 (or null), 0 < user_delta < 1",
            )


@dataclass(frozen=True)
class CommitteeConfig:
    """``committee:``: how this node serves on committees.

    Attributes
    ----------
    warm_seat:
        Keep the CrypTen party process (torch and CrypTen, several hundred MB resident)
        running from registration on, instead of starting it when the node is drawn and
        stopping it after the round (docs/operations.md: what a cold start costs).
    """

    warm_seat: bool = False


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
    privacy_floor: PrivacyFloor = field(default_factory=PrivacyFloor)
    mpc_timeout_s: float = 60.0
    committee: CommitteeConfig = field(default_factory=CommitteeConfig)
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
