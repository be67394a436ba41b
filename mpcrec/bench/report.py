"""What the benchmarks share: the output path checked first, a table, JSON written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.table import Table

from mpcrec.errors import ConfigError
from mpcrec.files import write_atomic


def write_json(
    path: Path, result: Mapping[str, Any], *, hint: str | None = None, allow_nan: bool = True
) -> None:
    """Write ``result`` to ``path`` as indented JSON with a final newline, atomically.

    Parameters
    ----------
    path:
        The ``--out`` file.
    result:
        The benchmark's figures.
    hint:
        What the user should do if the file cannot be written (see
        :func:`mpcrec.files.write_atomic`).
    allow_nan:
        ``False`` refuses NaN and infinities (strict JSON).
    """
    text = json.dumps(result, indent=2, allow_nan=allow_nan) + "\n"
    write_atomic(path, text.encode(), hint=hint)


def metric_table(
    title: str, rows: Iterable[tuple[str, str]], *, header: tuple[str, str] = ("metric", "value")
) -> Table:
    """A two-column table: one named figure per row, values right-aligned."""
    table = Table(title=title)
    table.add_column(header[0])
    table.add_column(header[1], justify="right")
    for name, value in rows:
        table.add_row(name, value)
    return table


def check_writable(path: Path) -> None:
    """Fail before the long run, not after it, if ``path`` cannot be written."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"cannot create {folder}: {err.strerror or err}") from None
    if not os.access(folder, os.W_OK) or path.is_dir():
        raise ConfigError(f"cannot write {path}", hint="choose a file in a writable directory")
