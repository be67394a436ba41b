"""Reading the YAML files that configure a launcher or a node, with errors a user can act on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mpcrec.crypto.pki import CertPaths
from mpcrec.errors import ConfigError


def load_mapping(path: Path) -> dict[str, Any]:
    """Parse ``path`` as a YAML mapping."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


def section(data: Mapping[str, Any], key: str, path: Path, known: set[str]) -> dict[str, Any]:
    """The sub-mapping ``data[key]`` (empty if absent), refusing unknown keys."""
    found = data.get(key) or {}
    if not isinstance(found, dict):
        raise ConfigError(f"{path}: `{key}` must be a mapping")
    unknown = sorted(set(found) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {unknown} in `{key}`",
            hint="known: " + ", ".join(sorted(known)),
        )
    return dict(found)


def tls_paths(data: Mapping[str, Any], path: Path) -> CertPaths:
    """``tls: {cert, key, ca}`` resolved relative to the config file."""
    tls = section(data, "tls", path, {"cert", "key", "ca"})
    missing = sorted({"cert", "key", "ca"} - set(tls))
    if missing:
        raise ConfigError(
            f"{path}: `tls` needs {missing}", hint="`mpcrec pki` makes a local CA and certificates"
        )
    base = Path(path).parent
    return CertPaths(cert=base / tls["cert"], key=base / tls["key"], ca=base / tls["ca"])


def as_type(value: Any, kind: type, name: str, path: Path) -> Any:
    """``kind(value)``, or a :class:`ConfigError` naming the setting."""
    try:
        return kind(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: `{name}` = {value!r} is not a {kind.__name__}") from err
