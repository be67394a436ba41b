"""``federation.yaml``: the typed sections, the privacy promise it can keep, errors naming
file and key, and the example in docs/operations.md."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from launch.config import LauncherConfig
from launch.round import RoundPolicy
from launch.schedule import Schedule
from mpcrec.crypto.beacon import LocalSigner
from mpcrec.errors import ConfigError
from mpcrec.federation.spec import FederationSpec, PrivacyPromise

DOCS = Path(__file__).parents[2] / "docs" / "operations.md"


def _federation_yaml(tmp_path: Path, model: str, privacy: str | None) -> Path:
    path = tmp_path / "federation.yaml"
    text = f"listen: 127.0.0.1:1\ntls: {{cert: a, key: b, ca: c}}\nmodel: {model}\n"
    text += "beacon: {unsafe_commit_reveal_only: true}\n"
    path.write_text(text + (f"privacy: {privacy}\n" if privacy is not None else ""))
    return path


SECURE = "{n_items: 3, dim: 2, aggregation: secure, noise_multiplier: 2.0}"
MINIMAL = (
    "listen: 127.0.0.1:1\ntls: {cert: a, key: b, ca: c}\nmodel: {n_items: 3, dim: 2}\n"
    "beacon: {unsafe_commit_reveal_only: true}\n"
)


def test_the_documented_example_loads(tmp_path: Path) -> None:
    block = re.search(r"```yaml\n(# federation\.yaml\n.*?)```", DOCS.read_text(), re.S)
    assert block is not None
    path = tmp_path / "federation.yaml"
    path.write_text(block.group(1))
    (tmp_path / "drand-chain.json").write_text(
        json.dumps(LocalSigner(bytes(32)).chain(genesis_time=0, period=3).to_json())
    )

    config = LauncherConfig.load(path)

    assert config.listen == "0.0.0.0:7443" and config.state_dir == tmp_path / "state/launcher"
    assert config.tls.ca == tmp_path / "pki/ca/ca.pem"
    assert config.spec.aggregation == "secure" and config.policy.cooldown == 3
    assert config.privacy == PrivacyPromise(
        epsilon_budget=8.0, delta=1e-5, unit="user", user_rate=0.2, user_clip_norm=0.1
    )
    assert config.spec.sensitivity == "user" and config.spec.noise_multiplier > 0
    assert config.beacon.chain_info == tmp_path / "drand-chain.json"


def test_a_federation_without_a_beacon_refuses_to_load(tmp_path: Path) -> None:
    path = tmp_path / "federation.yaml"
    path.write_text(MINIMAL.replace("beacon: {unsafe_commit_reveal_only: true}\n", ""))

    with pytest.raises(ConfigError, match="beacon: no randomness beacon configured"):
        LauncherConfig.load(path)


def test_sections_left_out_take_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "federation.yaml"
    path.write_text(MINIMAL)

    config = LauncherConfig.load(path)

    assert config.spec == FederationSpec(n_items=3, dim=2)
    assert (config.policy, config.schedule) == (RoundPolicy(), Schedule())
    assert config.state_dir == tmp_path / "state/launcher"
    assert not config.privacy.declared


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (MINIMAL.replace("listen: 127.0.0.1:1\n", ""), "listen: missing (required)"),
        (MINIMAL.replace("model: {n_items: 3, dim: 2}\n", ""), "model: missing (required)"),
        (MINIMAL.replace("tls: {cert: a, key: b, ca: c}\n", ""), "tls: missing (required)"),
        (MINIMAL.replace("ca: c", "ca: 4"), "tls.ca: expected a path, got 4"),
        (MINIMAL.replace("key: b, ", ""), "tls.key: missing (required)"),
        (MINIMAL + "round: {cooldown: 2}\n", "round: unknown setting"),
        (MINIMAL + "rounds: {cooldown: two}\n", "rounds.cooldown: expected an integer, got 'two'"),
        (MINIMAL + "rounds: {cooldown: 0}\n", "rounds: cooldown 0 must be at least 1"),
        (MINIMAL + "rounds: {dealer: 'no'}\n", "rounds.dealer: expected true or false, got 'no'"),
        (MINIMAL + "schedule: {rounds: 2.5}\n", "schedule.rounds: expected an integer, got 2.5"),
        (MINIMAL + "schedule: 3\n", "schedule: expected a mapping of settings, got 3"),
        (
            MINIMAL.replace("dim: 2", "dim: 2, aggregation: magic"),
            "model: aggregation 'magic' is unknown",
        ),
    ],
)
def test_a_bad_setting_names_the_file_and_the_key(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "federation.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError) as bad:
        LauncherConfig.load(path)

    assert bad.value.message.startswith(f"{path}: {error}")


def test_config_reads_the_privacy_section(tmp_path: Path) -> None:
    absent = LauncherConfig.load(_federation_yaml(tmp_path, SECURE, None))
    null = LauncherConfig.load(_federation_yaml(tmp_path, SECURE, "{epsilon_budget: null}"))
    declared = LauncherConfig.load(
        _federation_yaml(tmp_path, SECURE, "{epsilon_budget: 8, delta: 1e-6, unit: instance}")
    )

    assert absent.privacy == PrivacyPromise(epsilon_budget=None, delta=1e-5, unit="instance")
    assert not null.privacy.declared
    assert declared.privacy == PrivacyPromise(epsilon_budget=8.0, delta=1e-6, unit="instance")


@pytest.mark.parametrize(
    ("model", "privacy", "words"),
    [
        (SECURE, "{epsilon_budget: 8, epsilon: 3}", "privacy.epsilon: unknown setting"),
        (SECURE, "{epsilon_budget: lots}", "privacy.epsilon_budget: expected a number, got 'lots'"),
        (SECURE, "{epsilon_budget: -2}", "privacy: epsilon_budget -2.0 must be"),
        (SECURE, "{delta: 2}", "privacy: delta 2.0 must be"),
        (
            "{n_items: 3, dim: 2, aggregation: secure}",
            "{epsilon_budget: 8}",
            "cannot pay for a single round: `model.noise_multiplier` 0 spends epsilon inf",
        ),
        (SECURE, "{epsilon_budget: 0.5}", "cannot pay for a single round"),
        (
            "{n_items: 3, dim: 2, aggregation: plaintext, noise_multiplier: 2.0}",
            "{epsilon_budget: 8}",
            "'plaintext'",
        ),
    ],
)
def test_config_refuses_a_promise_it_cannot_keep(
    tmp_path: Path, model: str, privacy: str, words: str
) -> None:
    path = _federation_yaml(tmp_path, model, privacy)

    with pytest.raises(ConfigError) as bad:
        LauncherConfig.load(path)

    assert bad.value.message.startswith(f"{path}: ")
    assert words in bad.value.message and bad.value.hint


@pytest.mark.parametrize(
    ("model", "words"),
    [
        ("{n_items: 3, dim: 2, clip_norm: 10.0, range_bound: 100.0}", "below 13 * clip_norm"),
        ("{n_items: 1682, dim: 32, clip_norm: 3000.0}", "too large for the 64-bit ring"),
        ("{n_items: 100000, dim: 32, clip_norm: 2000.0}", "norm blocks"),  # per block
    ],
)
def test_a_wrap_guard_nodes_would_refuse_or_the_ring_cannot_hold_stops_the_launcher(
    tmp_path: Path, model: str, words: str
) -> None:
    with pytest.raises(ConfigError) as bad:
        LauncherConfig.load(_federation_yaml(tmp_path, model, None))
    assert words in bad.value.message


def test_secure_with_the_wrap_guard_is_the_default_and_plaintext_an_opt_out(
    tmp_path: Path,
) -> None:
    default = LauncherConfig.load(_federation_yaml(tmp_path, "{n_items: 3, dim: 2}", None))
    plain = "{n_items: 3, dim: 2, aggregation: plaintext, range_bound: 0}"
    opted_out = LauncherConfig.load(_federation_yaml(tmp_path, plain, None))

    assert (default.spec.aggregation, default.spec.bound) == ("secure", 160.0)
    assert (opted_out.spec.aggregation, opted_out.spec.bound) == ("plaintext", 0.0)
