"""Typed configuration files: a YAML mapping read into a frozen dataclass.

One loader for ``federation.yaml`` (:class:`launch.config.LauncherConfig`) and ``node.yaml``
(:class:`mpcrec.node.config.NodeConfig`). What a setting may hold comes from the
dataclass's type hints (:func:`typing.get_type_hints`), so a new field needs no change here:

* a dataclass: a nested section (a mapping; ``null`` or absent: its defaults), read by
  the same rules;
* ``int``, ``float`` (an integer is accepted; so is a string that reads as the number,
  as YAML 1.1 reads ``1e-5`` as a string), ``bool``, ``str`` (a number is accepted, as
  YAML reads a digest of digits as one);
* :class:`~pathlib.Path`: relative to the file's directory (a default too);
* ``X | None``: ``null`` is accepted; ``Literal[...]`` and :class:`~enum.Enum`: one of the
  values; ``tuple[X, ...]``: a list;
* a union of dataclasses that each fix a ``Literal`` field (``kind``): the section whose
  tag the mapping names, or the one whose tag has a default when it names none;
* any other class ``C``: ``C(value)``.

A field without a default is required. ``field(metadata={"key": "model"})`` reads the field
from another key than its name; ``metadata={"hint": ...}`` says what to do when it is
missing or wrong. Unknown keys, wrong types, missing keys, a missing, unreadable or
malformed file, and the values a dataclass's own ``__post_init__`` refuses (a
:class:`~mpcrec.errors.ConfigError`) all raise one :class:`~mpcrec.errors.ConfigError`
naming the file and the dotted key.

Examples
--------
>>> import tempfile
>>> from mpcrec.crypto.pki import CertPaths
>>> path = Path(tempfile.mkdtemp()) / "node.yaml"
>>> _ = path.write_text("cert: a.pem\\nkey: a.key\\nca: 7\\n")
>>> load_config(CertPaths, path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mpcrec.errors.ConfigError: .../node.yaml: ca: expected a path, got 7
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from mpcrec.errors import ConfigError

T = TypeVar("T")

_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}


def read_mapping(path: Path) -> dict[str, Any]:
    """Parse ``path`` as a YAML mapping of settings."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(
            f"cannot read {path}: {err.strerror or err}", hint="check the path and permissions"
        ) from err
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of settings at the top level, got {_shown(data)}"
        )
    return data


def load_config(kind: type[T], path: Path) -> T:
    """Read ``path`` into the dataclass ``kind`` (module docstring)."""
    return build_config(kind, read_mapping(path), path=path)


def load_section(kind: type[T], path: Path, key: str) -> T:
    """Read only the section ``key`` of ``path`` into ``kind`` (other sections are ignored)."""
    data = read_mapping(path)
    if key not in data:
        raise ConfigError(f"{path}: {key}: missing", hint=f"add a `{key}:` section")
    return _Reader(path).section(kind, data[key], key)


def build_config(kind: type[T], data: Mapping[str, Any], *, path: Path) -> T:
    """Build ``kind`` from an already parsed mapping; errors name ``path``."""
    return _Reader(path).section(kind, data, "")


def _shown(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else repr(value)


def _dotted(prefix: str, name: object) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _default_hint(f: dataclasses.Field[Any]) -> str | None:
    """What leaving a setting out means, as the hint of an error about its value."""
    if f.default is dataclasses.MISSING:
        return None
    if f.default is None:
        return "leave it out (or null) to leave it unset"
    shown = f.default.value if isinstance(f.default, enum.Enum) else f.default
    return f"leave it out for the default, {shown if isinstance(shown, Path) else repr(shown)}"


def _yaml_key(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("key", f.name))


class _Reader:
    """Reads values for one file, naming it and the dotted key in every error."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def error(self, key: str, message: str, hint: str | None = None) -> ConfigError:
        """``FILE: KEY: message`` (``FILE: message`` at the top level)."""
        where = f"{self.path}: {key}" if key else str(self.path)
        return ConfigError(f"{where}: {message}", hint=hint)

    def section(self, kind: type[T], data: object, key: str) -> T:
        """A dataclass from a mapping (``null``: an empty one): every key known, every
        required one present."""
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise self.error(key, f"expected a mapping of settings, got {_shown(data)}")
        hints = typing.get_type_hints(kind)
        fields = {_yaml_key(f): f for f in dataclasses.fields(kind) if f.init}  # type: ignore[arg-type]
        unknown = sorted(str(k) for k in data if k not in fields)
        if unknown:
            raise self.error(
                _dotted(key, unknown[0]),
                "unknown setting",
                hint=f"known in {key or self.path.name}: " + ", ".join(sorted(fields)),
            )
        values = {}
        for name, f in fields.items():
            dotted = _dotted(key, name)
            if name in data:
                hint = f.metadata.get("hint") or _default_hint(f)
                values[f.name] = self.value(hints[f.name], data[name], dotted, hint)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise self.error(dotted, "missing (required)", hint=f.metadata.get("hint"))
            elif isinstance(f.default, Path) and not f.default.is_absolute():
                values[f.name] = self.path.parent / f.default
        try:
            return kind(**values)
        except ConfigError as err:  # the section's own value checks
            raise self.error(key, err.message, hint=err.hint) from err

    def value(self, kind: Any, raw: object, key: str, hint: str | None) -> Any:
        """``raw`` as the type ``kind``, or a :class:`ConfigError` naming ``key``."""
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if kind is Any:
            return raw
        if origin in (Union, types.UnionType):
            return self.union(args, raw, key, hint)
        if origin is Literal:
            if any(raw == a and type(raw) is type(a) for a in args):
                return raw
            return self.wrong(key, "one of " + ", ".join(repr(a) for a in args), raw, hint)
        if origin is tuple and args[1:] == (Ellipsis,):
            if not isinstance(raw, list):
                return self.wrong(key, "a list", raw, hint)
            return tuple(self.value(args[0], v, f"{key}[{i}]", hint) for i, v in enumerate(raw))
        if dataclasses.is_dataclass(kind):
            return self.section(kind, raw, key)  # type: ignore[arg-type]
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            try:
                return kind(raw)
            except ValueError:
                values = ", ".join(repr(m.value) for m in kind)
                return self.wrong(key, f"one of {values}", raw, hint)
        return self.scalar(kind, raw, key, hint)

    def scalar(self, kind: Any, raw: object, key: str, hint: str | None) -> Any:
        """``int``, ``float``, ``bool``, ``str``, ``Path``, or any class built from a value."""
        number = isinstance(raw, int | float) and not isinstance(raw, bool)
        accepted = {
            bool: isinstance(raw, bool),
            int: (number and isinstance(raw, int)) or _parses(int, raw),
            float: number or _parses(float, raw),
            str: number or isinstance(raw, str),
            Path: isinstance(raw, str) and bool(raw),
        }
        if kind in accepted:
            if not accepted[kind]:
                return self.wrong(key, _NAMES.get(kind, "a path"), raw, hint)
            return self.path.parent / str(raw) if kind is Path else kind(raw)
        if not isinstance(kind, type):
            raise TypeError(f"{key}: the config loader cannot read a {kind!r}")
        if isinstance(raw, kind):
            return raw
        try:
            return kind(raw)
        except ConfigError as err:
            raise self.error(key, err.message, hint=err.hint) from err
        except (TypeError, ValueError):
            return self.wrong(key, f"a {kind.__name__}", raw, hint)

    def union(self, args: tuple[Any, ...], raw: object, key: str, hint: str | None) -> Any:
        """``X | None``, or one of several tagged sections."""
        if raw is None and type(None) in args:
            return None
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return self.value(members[0], raw, key, hint)
        if all(dataclasses.is_dataclass(m) for m in members):
            return self.tagged(members, raw, key)
        raise TypeError(f"{key}: the config loader cannot read a union of {members}")

    def tagged(self, members: list[Any], raw: object, key: str) -> Any:
        """The section among ``members`` whose ``Literal`` tag field the mapping names."""
        if not isinstance(raw, Mapping):
            raise self.error(key, f"expected a mapping of settings, got {_shown(raw)}")
        tag = _tag_field(members)
        tags: dict[object, Any] = {}
        default = None
        for member in members:
            f = next(f for f in dataclasses.fields(member) if f.name == tag)
            values = typing.get_args(typing.get_type_hints(member)[tag])
            tags.update((value, member) for value in values)
            if f.default is not dataclasses.MISSING:
                default = member
        named = raw.get(tag)
        chosen = next((m for v, m in tags.items() if v == named), None) if tag in raw else default
        if chosen is None:
            known = ", ".join(repr(t) for t in sorted(tags, key=str))
            raise self.error(_dotted(key, tag), f"expected one of {known}, got {_shown(named)}")
        return self.section(chosen, raw, key)

    def wrong(self, key: str, expected: str, raw: object, hint: str | None) -> Any:
        """Raise: ``raw`` is not what ``key`` takes."""
        raise self.error(key, f"expected {expected}, got {_shown(raw)}", hint=hint)


def _parses(kind: type[int | float], raw: object) -> bool:
    """Whether ``raw`` is a string that reads as ``kind`` (YAML 1.1 reads ``1e-5``, without a
    dot, as a string)."""
    if not isinstance(raw, str):
        return False
    try:
        kind(raw)
    except ValueError:
        return False
    return True


def _tag_field(members: list[Any]) -> str:
    """The field every member of a tagged union fixes with a ``Literal``."""
    for f in dataclasses.fields(members[0]):
        if all(typing.get_origin(typing.get_type_hints(m).get(f.name)) is Literal for m in members):
            return f.name
    raise TypeError(f"sections {members} share no Literal tag field")
