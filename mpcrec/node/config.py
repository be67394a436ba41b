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

Relative paths are relative to the file. With ``peertube.listen`` the node serves the
recommendation API itself (:class:`~mpcrec.node.http_api.ApiServer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpcrec.crypto.pki import CertPaths
from mpcrec.data.peertube_settings import PeerTubeSettings
from mpcrec.errors import ConfigError
from mpcrec.federation.config_file import as_type, load_mapping, section, tls_paths

TOP = {
    "instance_id",
    "launcher",
    "mpc_address",
    "state_dir",
    "tls",
    "trainer",
    "faults",
    "mpc_timeout_s",
    "peertube",
}
TRAINERS = {
    "drift": {"rate", "weight", "scale"},
    "movielens": {"index", "instances", "seed", "rounds"},
    "peertube": {"catalogue", "catalogue_sha256", "seed", "rounds"},
}
SERVING = {"movielens", "peertube"}  # trainers that can build a serving snapshot


@dataclass(frozen=True)
class NodeConfig:
    """A node's whole configuration."""

    instance_id: str
    launcher: str
    mpc_address: str
    state_dir: Path
    tls: CertPaths
    trainer: dict[str, Any] = field(default_factory=lambda: {"kind": "drift"})
    member_delay_s: float = 0.0
    mpc_timeout_s: float = 60.0
    skip_clip: bool = False
    peertube: PeerTubeSettings | None = None
    serve_http: bool = False  # ``peertube.listen`` given: serve recommendations in-process

    @classmethod
    def load(cls, path: Path) -> NodeConfig:
        """Read and check ``node.yaml``."""
        data = load_mapping(path)
        unknown = sorted(set(data) - TOP)
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {unknown}", hint=f"known: {sorted(TOP)}")
        missing = sorted({"instance_id", "launcher", "mpc_address"} - set(data))
        if missing:
            raise ConfigError(f"{path}: {missing} required")
        kind = str((data.get("trainer") or {}).get("kind", "drift"))
        if kind not in TRAINERS:
            raise ConfigError(
                f"{path}: trainer kind {kind!r} is unknown",
                hint="known: " + ", ".join(sorted(TRAINERS)),
            )
        trainer = section(data, "trainer", path, {"kind"} | TRAINERS[kind])
        trainer["kind"] = kind
        peertube, serve_http = _peertube(data, path, kind)
        if kind == "peertube":
            if "catalogue" not in trainer:
                raise ConfigError(
                    f"{path}: trainer kind 'peertube' needs `catalogue` (the federation's items)",
                    hint="catalogue: catalogue.txt, the file the federation's operator publishes",
                )
            trainer["catalogue"] = str(Path(path).parent / str(trainer["catalogue"]))
        faults = section(data, "faults", path, {"member_delay_s", "skip_clip"})
        return cls(
            instance_id=str(data["instance_id"]),
            launcher=str(data["launcher"]),
            mpc_address=str(data["mpc_address"]),
            state_dir=Path(path).parent
            / str(data.get("state_dir", f"state/{data['instance_id']}")),
            tls=tls_paths(data, path),
            trainer=trainer,
            member_delay_s=as_type(faults.get("member_delay_s", 0.0), float, "faults", path),
            skip_clip=bool(faults.get("skip_clip", False)),
            mpc_timeout_s=as_type(data.get("mpc_timeout_s", 60.0), float, "mpc_timeout_s", path),
            peertube=peertube,
            serve_http=serve_http,
        )


def _peertube(data: dict[str, Any], path: Path, kind: str) -> tuple[PeerTubeSettings | None, bool]:
    """The ``peertube:`` section, and whether to serve HTTP (``listen`` given)."""
    raw = data.get("peertube")
    if raw is None:
        if kind == "peertube":
            raise ConfigError(
                f"{path}: trainer kind 'peertube' needs a `peertube:` section",
                hint="peertube: {dsn: ..., listen: 127.0.0.1:9090} (see docs/peertube.md)",
            )
        return None, False
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: `peertube` must be a mapping")
    settings = PeerTubeSettings.from_mapping(raw, f"{path}: peertube")
    serve = "listen" in raw
    if serve and kind not in SERVING:
        raise ConfigError(
            f"{path}: peertube.listen needs a trainer that serves users, not {kind!r}",
            hint="trainer kind: " + " or ".join(sorted(SERVING)),
        )
    return settings, serve
