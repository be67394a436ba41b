"""The typed YAML loader: every setting typed by the dataclass, every error naming file and key."""

from __future__ import annotations

import doctest
import enum
import ipaddress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest

from mpcrec.errors import ConfigError
from mpcrec.federation import config_file
from mpcrec.federation.config_file import load_config, load_section


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Plain:
    kind: Literal["plain"] = "plain"
    rate: float = 0.5


@dataclass(frozen=True)
class Shard:
    kind: Literal["shard"]
    index: int
    rounds: int = 200

    def __post_init__(self) -> None:
        if self.index < 0:
            raise ConfigError(f"index {self.index} must be >= 0", hint="count from 0")


@dataclass(frozen=True)
class Limits:
    seconds: float = 1.0
    strict: bool = False


@dataclass(frozen=True)
class Settings:
    name: str
    spec: Limits = field(metadata={"key": "limits", "hint": "limits: {seconds}"})
    trainer: Plain | Shard = field(default_factory=Plain)
    mode: Literal["fast", "safe"] = "safe"
    colour: Colour = Colour.RED
    budget: float | None = None
    data: Path = Path("data")
    catalogue: Path | None = None
    ports: tuple[int, ...] = ()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.yaml"
    path.write_text(text)
    return path


BASE = "name: tube-a\nlimits: {seconds: 2}\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "expected a mapping of settings at the top level, got nothing"),
        ("- a\n- b\n", "expected a mapping of settings at the top level, got a list"),
        ("name: [unclosed\n", "not valid YAML"),
        ("limits: {}\n", "name: missing (required)"),
        ("name: tube-a\n", "limits: missing (required)"),
        (BASE + "colour_code: 3\n", "colour_code: unknown setting"),
        (BASE.replace("2}", "2, loud: true}"), "limits.loud: unknown setting"),
        (BASE.replace("{seconds: 2}", "5"), "limits: expected a mapping of settings, got 5"),
        (BASE.replace("2}", "two}"), "limits.seconds: expected a number, got 'two'"),
        (BASE.replace("2}", "2, strict: 1}"), "limits.strict: expected true or false, got 1"),
        ("name: [a]\nlimits: {}\n", "name: expected a string, got a list"),
        (
            BASE + "trainer: {kind: shard, index: 1, rounds: ten}\n",
            "trainer.rounds: expected an integer, got 'ten'",
        ),
        (
            BASE + "trainer: {kind: shard, index: 1.5}\n",
            "trainer.index: expected an integer, got 1.5",
        ),
        (BASE + "trainer: {kind: shard}\n", "trainer.index: missing (required)"),
        (BASE + "trainer: {kind: shard, index: -1}\n", "trainer: index -1 must be >= 0"),
        (
            BASE + "trainer: {kind: magic}\n",
            "trainer.kind: expected one of 'plain', 'shard', got 'magic'",
        ),
        (BASE + "trainer: {kind: plain, index: 1}\n", "trainer.index: unknown setting"),
        (
            BASE + "trainer: {kind: [shard]}\n",
            "trainer.kind: expected one of 'plain', 'shard', got a list",
        ),
        (BASE + "trainer: [plain]\n", "trainer: expected a mapping of settings, got a list"),
        (BASE + "mode: quick\n", "mode: expected one of 'fast', 'safe', got 'quick'"),
        (BASE + "colour: green\n", "colour: expected one of 'red', 'blue', got 'green'"),
        (BASE + "budget: lots\n", "budget: expected a number, got 'lots'"),
        (BASE + "data: 5\n", "data: expected a path, got 5"),
        (BASE + "data: null\n", "data: expected a path, got nothing"),
        (BASE + "ports: 7443\n", "ports: expected a list, got 7443"),
        (BASE + "ports: [7443, http]\n", "ports[1]: expected an integer, got 'http'"),
    ],
)
def test_every_bad_setting_is_one_error_naming_the_file_and_the_key(
    tmp_path: Path, text: str, error: str
) -> None:
    path = _write(tmp_path, text)

    with pytest.raises(ConfigError) as bad:
        load_config(Settings, path)

    assert bad.value.message.startswith(f"{path}: {error}")


def test_hints_come_from_the_field_and_from_the_section(tmp_path: Path) -> None:
    missing = _write(tmp_path, "name: tube-a\n")
    with pytest.raises(ConfigError) as bad:
        load_config(Settings, missing)
    assert bad.value.hint == "limits: {seconds}"
    with pytest.raises(ConfigError) as own:
        load_config(Settings, _write(tmp_path, BASE + "trainer: {kind: shard, index: -1}\n"))
    assert own.value.hint == "count from 0"
    with pytest.raises(ConfigError) as unknown:
        load_config(Settings, _write(tmp_path, BASE + "limit: 3\n"))
    assert unknown.value.hint is not None and "limits" in unknown.value.hint


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_a_file_that_cannot_be_read_names_itself(tmp_path: Path, make: str) -> None:
    path = tmp_path / "node.yaml"
    if make == "directory":
        path.mkdir()

    with pytest.raises(ConfigError) as bad:
        load_config(Settings, path)

    assert bad.value.message.startswith(f"cannot read {path}: ") and bad.value.hint


def test_values_defaults_and_paths_follow_the_type_hints(tmp_path: Path) -> None:
    text = (
        "name: 5432\nlimits: {seconds: 3, strict: true}\ntrainer: {kind: shard, index: 2}\n"
        "mode: fast\ncolour: blue\nbudget: 1e-5\ndata: state/a\ncatalogue: /abs/c.txt\n"
        "ports: [1, 2]\n"
    )

    given = load_config(Settings, _write(tmp_path, text))
    defaults = load_config(Settings, _write(tmp_path, "name: a\nlimits: null\ntrainer: {}\n"))

    assert given == Settings(
        name="5432",
        spec=Limits(seconds=3.0, strict=True),
        trainer=Shard(kind="shard", index=2),
        mode="fast",
        colour=Colour.BLUE,
        budget=1e-5,
        data=tmp_path / "state/a",
        catalogue=Path("/abs/c.txt"),
        ports=(1, 2),
    )
    assert isinstance(given.spec.seconds, float) and isinstance(given.budget, float)
    assert defaults == Settings(name="a", spec=Limits(), data=tmp_path / "data")
    assert defaults.trainer == Plain() and defaults.budget is None


@dataclass(frozen=True)
class Newcomer:
    """Field types the loader was not written for: built from the value by their class."""

    address: ipaddress.IPv4Address
    price: Decimal = Decimal("1.5")


def test_a_new_field_type_needs_no_change_to_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_text("address: 10.0.0.1\nprice: '2.25'\n")

    read = load_config(Newcomer, path)
    path.write_text("address: 10.0.0.999\n")
    with pytest.raises(ConfigError) as bad:
        load_config(Newcomer, path)

    assert read == Newcomer(ipaddress.IPv4Address("10.0.0.1"), Decimal("2.25"))
    assert bad.value.message == f"{path}: address: expected a IPv4Address, got '10.0.0.999'"


def test_one_section_is_read_alone(tmp_path: Path) -> None:
    path = _write(tmp_path, "other: {anything: 1}\nlimits: {seconds: 4}\n")

    limits = load_section(Limits, path, "limits")
    with pytest.raises(ConfigError) as bad:
        load_section(Limits, path, "peertube")

    assert limits == Limits(seconds=4.0)
    assert bad.value.message == f"{path}: peertube: missing"


def test_module_examples() -> None:
    assert doctest.testmod(config_file, optionflags=doctest.ELLIPSIS).failed == 0
