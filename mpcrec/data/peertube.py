"""Read what an instance's users watched, liked and saved, straight from PeerTube's PostgreSQL.

Three PeerTube tables carry the signals, each read with its owner resolved to a *local*
PeerTube user (``account.userId`` is set only for the instance's own users):

========================  =====================================  ===========================
table                     owner                                  signal
========================  =====================================  ===========================
``userVideoHistory``      ``userId``                             watched
``accountVideoRate``      ``accountId`` -> ``account.userId``    liked / disliked (``type``)
``videoPlaylistElement``  ``videoPlaylistId`` -> ``videoPlaylist.ownerAccountId``
                          -> ``account.userId``                  saved to a playlist
========================  =====================================  ===========================

Videos are named federation-wide by ``video.url`` (their ActivityPub id) and ``video.uuid``;
remote videos (``video.remote``) are read like local ones. Only public videos
(``video.privacy = 1``) are read: the URL of an unlisted or private video is a secret its
owner shared with few people, and item embeddings are federation-wide.

Reads are incremental. A :class:`Watermark` holds, for each table, the ``(updatedAt, id)``
of the last row read; the next read returns rows strictly after it, up to ``now() -
settle`` so that a transaction still in flight when we read (its rows carry an earlier
``updatedAt`` than they become visible) is picked up by the next read instead of being
skipped. All queries of one read run in one ``REPEATABLE READ READ ONLY`` transaction, so
they see one consistent snapshot. Rows deleted in PeerTube (a user clearing their history)
are found with :meth:`PeerTubeReader.read_present_rows`.

The reader needs SELECT on the columns of
:data:`~mpcrec.data.peertube_grants.REQUIRED_COLUMNS` only (the grants:
:func:`~mpcrec.data.peertube_grants.grant_sql`); :meth:`PeerTubeReader.check` checks the
schema first and says which table or column is missing or unreadable. The SQL lives in
:mod:`mpcrec.data.peertube_queries`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from mpcrec.data.peertube_consent import TrainingExclusions, read_training_exclusions
from mpcrec.data.peertube_grants import SUPPORTED_VERSIONS, schema_problems
from mpcrec.data.peertube_queries import (
    CATALOGUE_COUNT_QUERY,
    CATALOGUE_QUERY,
    PRESENT_QUERIES,
    PUBLIC,
    PUBLISHED,
    SIGNAL_COUNT_QUERY,
    SIGNAL_QUERIES,
)
from mpcrec.errors import ConfigError, DataError


class Signal(enum.Enum):
    """What a user did with a video."""

    WATCH = "watch"
    LIKE = "like"
    DISLIKE = "dislike"
    PLAYLIST = "playlist"


class Source(enum.Enum):
    """The PeerTube table a signal comes from."""

    HISTORY = "userVideoHistory"
    RATE = "accountVideoRate"
    PLAYLIST = "videoPlaylistElement"


@dataclass(frozen=True, slots=True)
class Event:
    """One row of a signal table: ``user_id`` did ``signal`` with a video at ``at``.

    ``(source, row_id)`` names the row; a later read of the same row (a like turned into a
    dislike, a video watched again) replaces the earlier event.
    """

    source: Source
    row_id: int
    user_id: int
    signal: Signal
    video_url: str
    video_uuid: str
    at: float


@dataclass(frozen=True)
class Video:
    """A public video of the catalogue the instance knows (its own and federated ones)."""

    uuid: str
    url: str
    name: str
    remote: bool
    published: float
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Watermark:
    """Where the last read stopped: ``(updatedAt, id)`` of the last row of each table."""

    positions: Mapping[Source, tuple[datetime, int]] = field(default_factory=dict)

    def after(self, source: Source) -> tuple[datetime | None, int]:
        """The position to read ``source`` after (``(None, 0)``: from the start)."""
        at, row = self.positions.get(source, (None, 0))
        return at, row

    def to_json(self) -> dict[str, list[Any]]:
        """A JSON-able form (ISO times), for the node to persist between rounds."""
        return {s.value: [at.isoformat(), row] for s, (at, row) in self.positions.items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Watermark:
        """Inverse of :meth:`to_json`; raises :class:`DataError` on a malformed value."""
        try:
            positions = {
                Source(name): (datetime.fromisoformat(at), int(row))
                for name, (at, row) in data.items()
            }
        except (ValueError, TypeError) as err:
            raise DataError(f"malformed PeerTube watermark {dict(data)!r}: {err}") from err
        return cls(positions)


@dataclass(frozen=True)
class Delta:
    """What changed since a watermark: the new events and the watermark to read after."""

    events: tuple[Event, ...]
    watermark: Watermark


@dataclass(frozen=True)
class ReadSummary:
    """What one full read would return, counted by PostgreSQL (no row leaves it)."""

    signals: Mapping[str, int]  # rows per signal kind: watch, like, dislike, playlist
    users_with_signals: int
    public_videos: int
    remote_videos: int


@dataclass(frozen=True)
class SchemaReport:
    """What :meth:`PeerTubeReader.check` found: the PeerTube migration and the row counts."""

    migration_version: int | None
    rows: Mapping[str, int]


def describe_dsn(dsn: str) -> str:
    """``user@host:port/dbname`` of a libpq connection string, never its password."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as err:
        raise ConfigError(
            f"invalid PostgreSQL connection string: {str(err).splitlines()[0]}",
            hint="use 'host=... port=5432 dbname=peertube_prod user=mpcrec_reader' or a "
            "postgresql:// URL",
        ) from err
    host = parts.get("host") or "localhost"
    return f"{parts.get('user', '?')}@{host}:{parts.get('port', 5432)}/{parts.get('dbname', '?')}"


class PeerTubeReader:
    """Reads signals and the catalogue from a PeerTube database with a read-only role.

    Parameters
    ----------
    dsn:
        libpq connection string or ``postgresql://`` URL of PeerTube's database.
    settle_seconds:
        Rows updated in the last ``settle_seconds`` are left for the next read (see the
        module docstring). 0 reads everything committed.
    connect_timeout:
        Seconds to wait for the server.
    """

    def __init__(
        self, dsn: str, *, settle_seconds: float = 30.0, connect_timeout: float = 10.0
    ) -> None:
        self.where = describe_dsn(dsn)
        self.dsn = dsn
        self.settle_seconds = settle_seconds
        self.connect_timeout = connect_timeout

    @contextmanager
    def snapshot(self) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
        """A cursor inside one read-only, repeatable-read transaction; errors become UserErrors."""
        try:
            conn = psycopg.connect(self.dsn, connect_timeout=max(1, int(self.connect_timeout)))
        except psycopg.OperationalError as err:
            raise DataError(
                f"cannot connect to the PeerTube database {self.where}: {_first_line(err)}",
                hint="check host, port, database name, role and password (see docs/peertube.md)",
            ) from err
        try:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.errors.InsufficientPrivilege as err:
            raise DataError(
                f"the role of {self.where} may not read a PeerTube table: {_first_line(err)}",
                hint="run the GRANT statements of `mpcrec peertube grants` as the database owner",
            ) from err
        except psycopg.errors.UndefinedTable as err:
            raise DataError(
                f"{self.where} is not a PeerTube database: {_first_line(err)}",
                hint=f"supported: {SUPPORTED_VERSIONS}",
            ) from err
        finally:
            conn.close()

    def check(self) -> SchemaReport:
        """Check every table and column the reader needs exists and is readable.

        Raises
        ------
        DataError
            Naming each missing table or column (with the supported PeerTube versions), or
            each column the role may not read (with the statement that fixes it).
        """
        with self.snapshot() as cur:
            missing, unreadable = schema_problems(cur)
            if missing:
                raise DataError(
                    f"{self.where} lacks PeerTube's {', '.join(missing)}",
                    hint=f"is this PeerTube's database? Supported: {SUPPORTED_VERSIONS}",
                )
            if unreadable:
                raise DataError(
                    f"the role of {self.where} may not read {', '.join(unreadable)}",
                    hint="run the GRANT statements of `mpcrec peertube grants` as the "
                    "database owner",
                )
            cur.execute('SELECT MAX("migrationVersion") FROM "application"')
            row = cur.fetchone()
            version = None if row is None or row[0] is None else int(row[0])
            rows = {}
            for table in ("userVideoHistory", "accountVideoRate", "videoPlaylistElement", "video"):
                cur.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(table)))
                counted = cur.fetchone()
                rows[table] = int(counted[0]) if counted else 0
        return SchemaReport(migration_version=version, rows=rows)

    def read_since(self, watermark: Watermark | None = None) -> Delta:
        """Every signal row changed after ``watermark`` (all rows when ``None``)."""
        mark = watermark or Watermark()
        events: list[Event] = []
        positions = dict(mark.positions)
        names: dict[str, str] = {}  # one string object per video URL / uuid, however many rows
        with self.snapshot() as cur:
            cur.execute("SELECT now() - make_interval(secs => %s)", (self.settle_seconds,))
            bound = cur.fetchone()
            until = bound[0] if bound else None
            for source in Source:
                at, row = mark.after(source)
                cur.execute(
                    SIGNAL_QUERIES[source.value],
                    {"at": at, "row": row, "until": until, "public": PUBLIC},
                )
                rows = cur.fetchall()
                events.extend(_event(source, r, names) for r in rows)
                if rows:
                    positions[source] = (rows[-1][2], int(rows[-1][0]))
        return Delta(events=tuple(events), watermark=Watermark(positions))

    def summarise(self) -> ReadSummary:
        """Count what :meth:`read_since` (from the start) and :meth:`read_catalogue` would
        return, without reading the rows (``mpcrec peertube check`` on a large instance)."""
        with self.snapshot() as cur:
            cur.execute("SELECT now() - make_interval(secs => %s)", (self.settle_seconds,))
            bound = cur.fetchone()
            cur.execute(
                SIGNAL_COUNT_QUERY, {"public": PUBLIC, "until": bound[0] if bound else None}
            )
            counted = cur.fetchall()
            cur.execute(CATALOGUE_COUNT_QUERY, {"public": PUBLIC, "published": PUBLISHED})
            videos = cur.fetchone() or (0, 0)
        signals = {str(kind): int(rows) for kind, rows, _ in counted if kind is not None}
        users = next((int(u) for kind, _, u in counted if kind is None), 0)
        return ReadSummary(signals, users, int(videos[0]), int(videos[1]))

    def read_present_rows(self) -> set[tuple[Source, int]]:
        """``(source, row id)`` of every signal row still in the database (to drop deleted ones)."""
        present: set[tuple[Source, int]] = set()
        with self.snapshot() as cur:
            for source in Source:
                cur.execute(PRESENT_QUERIES[source.value])
                present.update((source, int(r[0])) for r in cur.fetchall())
        return present

    def read_local_users(self) -> frozenset[int]:
        """Ids of the instance's own users (``account.userId``), with or without signals."""
        with self.snapshot() as cur:
            cur.execute('SELECT "userId" FROM "account" WHERE "userId" IS NOT NULL')
            return frozenset(int(r[0]) for r in cur.fetchall())

    def read_training_exclusions(self) -> TrainingExclusions:
        """Users never to train on: opted out in the plugin, or history disabled
        (:mod:`mpcrec.data.peertube_consent`)."""
        with self.snapshot() as cur:
            return read_training_exclusions(cur)

    def read_catalogue(self) -> tuple[Video, ...]:
        """Every public, published video the instance knows, local and remote, by ``id``."""
        with self.snapshot() as cur:
            cur.execute(CATALOGUE_QUERY, {"public": PUBLIC, "published": PUBLISHED})
            return tuple(
                Video(
                    uuid=str(r[0]),
                    url=r[1],
                    name=r[2],
                    remote=bool(r[3]),
                    published=r[4].timestamp(),
                    tags=tuple(sorted(r[5])),
                )
                for r in cur.fetchall()
            )


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _event(source: Source, row: tuple[Any, ...], names: dict[str, str]) -> Event:
    row_id, user_id, updated, kind, url, uuid_ = row
    url = names.setdefault(url, url)
    uuid_ = names.setdefault(str(uuid_), str(uuid_))
    signal = {
        Source.HISTORY: Signal.WATCH,
        Source.PLAYLIST: Signal.PLAYLIST,
    }.get(source) or (Signal.LIKE if kind == "like" else Signal.DISLIKE)
    return Event(
        source=source,
        row_id=int(row_id),
        user_id=int(user_id),
        signal=signal,
        video_url=url,
        video_uuid=uuid_,
        at=updated.timestamp(),
    )
