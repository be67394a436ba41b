"""``node.yaml``: one typed section per trainer, the ``peertube:`` section, errors naming file
and key, and the examples in docs/operations.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mpcrec.data.peertube_log import SignalWeights
from mpcrec.data.peertube_settings import PeerTubeSettings
from mpcrec.errors import ConfigError
from mpcrec.node.config import (
    DriftTrainerConfig,
    Faults,
    MovieLensTrainerConfig,
    NodeConfig,
    PeerTubeTrainerConfig,
    PrivacyFloor,
)
from mpcrec.node.from_config import trainer_from_config
from mpcrec.node.trainer import DriftTrainer

DOCS = Path(__file__).parents[2] / "docs" / "operations.md"
PEERTUBE_DOCS = DOCS.with_name("peertube.md")
BASE: dict[str, Any] = {
    "instance_id": "tube-a",
    "launcher": "127.0.0.1:7443",
    "mpc_address": "127.0.0.1:7600",
    "tls": {"cert": "a.pem", "key": "a.key", "ca": "ca.pem"},
}
PEERTUBE = {
    "dsn": "dbname=peertube_prod",
    "settle_seconds": 5,
    "listen": "127.0.0.1:9191",
    "api_secret_file": "api.secret",
}
PEERTUBE_TRAINER = {"kind": "peertube", "catalogue": "catalogue.txt", "rounds": 10}


def _load(tmp_path: Path, data: dict[str, Any]) -> NodeConfig:
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(data))
    return NodeConfig.load(path)


def test_the_documented_examples_load(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(# node\.yaml\n.*?)```", DOCS.read_text(), re.S)
    assert len(blocks) == 2
    path = tmp_path / "node.yaml"

    loaded = []
    for block in blocks:
        path.write_text(block)
        loaded.append(NodeConfig.load(path))

    movielens, peertube = loaded
    assert movielens.trainer == MovieLensTrainerConfig("movielens", 0, 20, seed=0, rounds=200)
    assert movielens.state_dir == tmp_path / "state/tube-a" and not movielens.serve_http
    assert isinstance(peertube.trainer, PeerTubeTrainerConfig) and peertube.serve_http
    assert peertube.trainer.catalogue == tmp_path / "catalogue.txt"
    assert peertube.peertube is not None and peertube.peertube.listen_port == 9090


def test_the_peertube_guide_sections_load(tmp_path: Path) -> None:
    text = PEERTUBE_DOCS.read_text().split("## 2. The config file", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block is not None

    config = _load(tmp_path, {**BASE, **yaml.safe_load(block.group(1))})

    assert isinstance(config.trainer, PeerTubeTrainerConfig) and config.serve_http
    assert config.peertube is not None and config.peertube.weights == SignalWeights()


@pytest.mark.parametrize(
    ("trainer", "expected"),
    [
        (None, DriftTrainerConfig()),
        ({}, DriftTrainerConfig()),
        ({"kind": "drift", "scale": 1000}, DriftTrainerConfig(scale=1000.0)),
        (
            {"kind": "movielens", "index": 1, "instances": 3, "seed": 7},
            MovieLensTrainerConfig("movielens", 1, 3, seed=7),
        ),
    ],
)
def test_each_trainer_has_its_own_typed_section(
    tmp_path: Path, trainer: dict[str, Any] | None, expected: object
) -> None:
    data = BASE if trainer is None else {**BASE, "trainer": trainer}

    config = _load(tmp_path, data)

    assert config.trainer == expected
    assert config.state_dir == tmp_path / "state/tube-a"  # the default names the instance
    assert config.faults == Faults() and config.mpc_timeout_s == 60.0


def test_the_drift_trainer_is_built_from_its_section(tmp_path: Path) -> None:
    config = _load(tmp_path, {**BASE, "trainer": {"rate": 0.25, "weight": 3}})

    trainer = trainer_from_config(config)

    assert trainer == DriftTrainer("tube-a", rate=0.25, weight=3.0, scale=1.0)


def test_the_peertube_section_and_trainer(tmp_path: Path) -> None:
    served = _load(tmp_path, {**BASE, "trainer": PEERTUBE_TRAINER, "peertube": PEERTUBE})
    quiet = _load(tmp_path, {**BASE, "trainer": PEERTUBE_TRAINER, "peertube": {"dsn": "x"}})
    weighted = _load(tmp_path, {**BASE, "peertube": {"weights": {"like": 3}}})

    assert served.serve_http and served.peertube is not None
    assert (served.peertube.listen_host, served.peertube.listen_port) == ("127.0.0.1", 9191)
    assert served.peertube.api_secret_path == tmp_path / "api.secret"
    assert served.trainer == PeerTubeTrainerConfig(
        "peertube", catalogue=tmp_path / "catalogue.txt", rounds=10
    )
    assert not quiet.serve_http  # no listen: no HTTP server, snapshot.npz instead
    assert weighted.peertube == PeerTubeSettings(weights=SignalWeights(like=3.0))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"launcher": None}, "launcher: expected a string, got nothing"),
        ({"instance_id": "tube-a", "colour": "red"}, "colour: unknown setting"),
        ({"trainer": {"kind": "magic"}}, "trainer.kind: expected one of 'drift', 'movielens'"),
        (
            {"trainer": {"kind": "movielens", "index": 0, "instances": 2, "rounds": "ten"}},
            "trainer.rounds: expected an integer, got 'ten'",
        ),
        ({"trainer": {"kind": "movielens", "instances": 2}}, "trainer.index: missing"),
        (
            {"trainer": {"kind": "movielens", "index": 2, "instances": 2}},
            "trainer: index 2 is not a shard of 2 instances",
        ),
        ({"trainer": {"kind": "drift", "index": 0}}, "trainer.index: unknown setting"),
        (
            {"trainer": {"kind": "drift", "rate": "fast"}},
            "trainer.rate: expected a number, got 'fast'",
        ),
        (
            {"trainer": {"kind": "peertube", "catalogue": 5}, "peertube": PEERTUBE},
            "trainer.catalogue",
        ),
        ({"trainer": PEERTUBE_TRAINER}, "trainer kind 'peertube' needs a `peertube:` section"),
        ({"peertube": PEERTUBE}, "peertube.listen needs a trainer that serves users"),
        ({"peertube": {**PEERTUBE, "port": 1}}, "peertube.port: unknown setting"),
        ({"peertube": {"listen": "9090"}}, "peertube: listen must be HOST:PORT, got '9090'"),
        (
            {"peertube": {"listen": "127.0.0.1:9090"}},
            "peertube: listen needs api_secret_file",
        ),
        ({"peertube": {"weights": {"watch": -1}}}, "peertube: weights must not be negative"),
        ({"peertube": {"weights": {"views": 1}}}, "peertube.weights.views: unknown setting"),
        ({"faults": {"skip_clip": "yes please"}}, "faults.skip_clip: expected true or false"),
        ({"mpc_timeout_s": "soon"}, "mpc_timeout_s: expected a number, got 'soon'"),
        ({"tls": {"cert": "a.pem", "key": "a.key"}}, "tls.ca: missing (required)"),
    ],
)
def test_a_bad_setting_names_the_file_and_the_key(
    tmp_path: Path, change: dict[str, Any], error: str
) -> None:
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump({**BASE, **change}))

    with pytest.raises(ConfigError) as bad:
        NodeConfig.load(path)

    assert bad.value.message.startswith(f"{path}: {error}")


def test_a_node_without_an_identity_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in BASE.items() if k != "instance_id"}))

    with pytest.raises(ConfigError) as bad:
        NodeConfig.load(path)

    assert bad.value.message == f"{path}: instance_id: missing (required)"


def test_the_privacy_floor_has_safe_defaults_and_named_opt_outs(tmp_path: Path) -> None:
    default = _load(tmp_path, BASE)
    opted = _load(
        tmp_path,
        {**BASE, "privacy_floor": {"allow_plaintext": True, "min_noise_multiplier": 1.0}},
    )

    assert default.privacy_floor == PrivacyFloor()
    assert not default.privacy_floor.allow_plaintext
    assert not default.privacy_floor.allow_model_reuse
    assert opted.privacy_floor.allow_plaintext and opted.privacy_floor.min_noise_multiplier == 1.0
    with pytest.raises(ConfigError, match="max_normalised_weight"):
        _load(tmp_path, {**BASE, "privacy_floor": {"max_normalised_weight": 2.0}})


def test_a_peertube_trainer_without_catalogue_txt_uses_the_verified_catalogue(
    tmp_path: Path,
) -> None:
    config = _load(tmp_path, {**BASE, "trainer": {"kind": "peertube"}, "peertube": PEERTUBE})
    assert isinstance(config.trainer, PeerTubeTrainerConfig)
    assert config.trainer.catalogue is None  # rows from state_dir/catalogue (catalogue_sync)
