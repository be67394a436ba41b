"""The generic interactions file: any dataset as CSV or TSV, ``--interactions FILE``.

Format: a header naming the columns, then one event per line. Required columns ``user``,
``item`` and ``timestamp`` (seconds, a number); optional ``weight`` (a positive number,
default 1.0) and ``instance`` (the instance a user belongs to; one per user). Columns are
separated by tabs when the header holds a tab, by commas otherwise; other columns are
ignored. Repeated (user, item) events keep their first occurrence: leave-last-out then
holds out the last *new* item of every user. Every user needs at least
:data:`MIN_INTERACTIONS` distinct items (one to train, one to validate, one to test).

Every problem is a :class:`~mpcrec.errors.DataError` naming the file and line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from mpcrec.data.interactions import Interactions
from mpcrec.errors import DataError

REQUIRED = ("user", "item", "timestamp")
OPTIONAL = ("weight", "instance")
MIN_INTERACTIONS = 3


def load_interaction_file(path: str | Path) -> Interactions:
    """Read an interactions file (CSV or TSV, see the module docstring).

    Raises
    ------
    DataError
        If the file is missing, empty or malformed, or a user has too few interactions.
    """
    path = Path(path)
    header, rows = _rows(path)
    columns = _columns(path, header)
    events = _Events()
    for lineno, fields in enumerate(rows, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        _check_shape(path, lineno, fields, header)
        events.add(path, lineno, _parse(path, lineno, fields, columns))
    if not events.users:
        raise DataError(
            f"{path}: no interactions after the header",
            hint="add one line per interaction: user,item,timestamp",
        )
    table = Interactions.from_columns(
        events.users,
        events.items,
        events.times,
        weights=events.weights,
        user_instance={u: v[0] for u, v in events.instance_of.items()}
        if events.instance_of
        else None,
    )
    _check_counts(path, table, events.first_line)
    return table


@dataclass(frozen=True, slots=True)
class _Line:
    """One parsed line: who, what, when, how much, and the instance if the file names one."""

    user: str
    item: str
    when: float
    weight: float
    instance: str | None


@dataclass
class _Events:
    """The columns being gathered, with what the checks across lines need."""

    users: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    instance_of: dict[str, tuple[str, int]] = field(default_factory=dict)  # label, first line
    first_line: dict[str, int] = field(default_factory=dict)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, path: Path, lineno: int, line: _Line) -> None:
        """Keep ``line`` unless its (user, item) came before; one instance per user."""
        if line.instance is not None:
            previous = self.instance_of.setdefault(line.user, (line.instance, lineno))
            if previous[0] != line.instance:
                raise DataError(
                    f"{path}:{lineno}: user {line.user!r} is in instance {line.instance!r} "
                    f"here but in {previous[0]!r} on line {previous[1]}",
                    hint="a user belongs to exactly one instance",
                )
        self.first_line.setdefault(line.user, lineno)
        if (line.user, line.item) in self.seen:
            return
        self.seen.add((line.user, line.item))
        self.users.append(line.user)
        self.items.append(line.item)
        self.times.append(line.when)
        self.weights.append(line.weight)


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the other lines split into fields (tabs if the header has one)."""
    lines = _read_lines(path)
    header_line = lines[0] if lines else ""
    if not header_line.strip():
        raise DataError(
            f"{path}: the file is empty",
            hint="write a header 'user,item,timestamp' then one interaction per line",
        )
    delimiter = "\t" if "\t" in header_line else ","
    rows = list(csv.reader(lines, delimiter=delimiter))
    return rows[0], rows[1:]


def _check_shape(path: Path, lineno: int, fields: list[str], header: list[str]) -> None:
    if [f.strip().lower() for f in fields] == [f.strip().lower() for f in header]:
        raise DataError(
            f"{path}:{lineno}: the header appears again (were two files concatenated?)",
            hint="keep one header line at the top of the file",
        )
    if len(fields) != len(header):
        raise DataError(
            f"{path}:{lineno}: expected {len(header)} fields, got {len(fields)}",
            hint=f"every line needs the columns {', '.join(header)}",
        )


def _parse(path: Path, lineno: int, fields: list[str], columns: dict[str, int]) -> _Line:
    user = _text(path, lineno, fields[columns["user"]], "user")
    item = _text(path, lineno, fields[columns["item"]], "item")
    when = _number(path, lineno, fields[columns["timestamp"]], "timestamp")
    weight = 1.0
    if "weight" in columns:
        weight = _number(path, lineno, fields[columns["weight"]], "weight")
        if weight <= 0:
            raise DataError(f"{path}:{lineno}: weight {weight} must be positive")
    instance = None
    if "instance" in columns:
        instance = _text(path, lineno, fields[columns["instance"]], "instance")
    return _Line(user, item, when, weight, instance)


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise DataError(f"{path}: cannot read: {err.strerror or err}") from None
    return text.splitlines()


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    names = [name.strip().lower() for name in header]
    columns: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in columns:
            raise DataError(
                f"{path}:1: column {name!r} appears twice in the header",
                hint="name each column once",
            )
        columns[name] = position
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise DataError(
            f"{path}:1: header {','.join(header)!r} lacks the column(s) {', '.join(missing)}",
            hint="the first line must name the columns: user,item,timestamp[,weight][,instance]",
        )
    return {name: columns[name] for name in (*REQUIRED, *OPTIONAL) if name in columns}


def _text(path: Path, lineno: int, value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise DataError(f"{path}:{lineno}: the {what} field is empty")
    return value


def _number(path: Path, lineno: int, value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise DataError(
            f"{path}:{lineno}: {what} {value.strip()!r} is not a finite number",
            hint="timestamps are seconds since the epoch" if what == "timestamp" else None,
        )
    return number


def _check_counts(path: Path, table: Interactions, first_line: dict[str, int]) -> None:
    counts = table.counts_per_user()
    short = [uid for uid, c in zip(table.user_ids, counts, strict=True) if c < MIN_INTERACTIONS]
    if short:
        user = short[0]
        count = int(counts[table.user_ids.index(user)])
        more = f" (and {len(short) - 1} more users)" if len(short) > 1 else ""
        raise DataError(
            f"{path}:{first_line[user]}: user {user!r} has {count} distinct interaction(s), "
            f"fewer than {MIN_INTERACTIONS}{more}",
            hint="leave-last-out needs a training, a validation and a test item per user: "
            "drop such users or add their interactions",
        )
