"""The embedded :class:`~launch.store.LauncherStore`: one SQLite file, restart-safe.

Write-ahead logging, and every state change in one transaction (``with self._db:``), so a
launcher killed with ``kill -9`` at any instant leaves each change whole or absent. Round
records are stored as one row each (list fields as JSON), which keeps a transition atomic
without spreading it over tables. Envelopes are kept until the round ends, then dropped:
only their digests stay, to refuse replays.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from launch.round import Round
from launch.round_record import round_from_json, round_to_json
from launch.sqlite_schema import SCHEMA, migrate
from launch.store import (
    Contribution,
    Instance,
    MemberResult,
    PublishedModel,
    StoreConflict,
    check_publishable,
)
from mpcrec.errors import ConfigError
from mpcrec.federation.refusals import LauncherUnreachable


class SQLiteStore:
    """Launcher state in one SQLite file (created if missing).

    Parameters
    ----------
    path:
        The database file, e.g. ``<state_dir>/launcher.sqlite``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # the WAL shrinks back after each checkpoint: a full disk is met at the next
            # write (and refused, nothing kept), not at an unforeseeable checkpoint
            self._db.execute("PRAGMA journal_size_limit=0")
            self._db.executescript(SCHEMA)
            migrate(self._db)
        except (OSError, sqlite3.DatabaseError) as err:
            raise ConfigError(
                f"cannot open the launcher store {self.path}: {err}",
                hint="check the state directory's path and permissions",
            ) from err
        self._lock = threading.RLock()
        # Read often (every call names its caller and its round), written rarely: kept as
        # last read outside any transaction, so never a row a rollback may yet undo; a
        # write forgets them (nothing else writes these tables: one launcher per file).
        self._latest: Round | None = None
        self._latest_known = False
        self._instances: dict[str, Instance] = {}

    # -- plumbing -------------------------------------------------------------------------

    def _query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    @property
    def connection(self) -> sqlite3.Connection:
        """The database connection (the audit log keeps its tables in the same file)."""
        return self._db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around every change made inside (nested ones join it); when it
        fails, a full disk included, none of it is kept."""
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException as err:
                unavailable = _rolled_back(self._db, err)
                if unavailable is None:
                    raise
                raise unavailable from err

    def _write(self, statements: list[tuple[str, tuple[object, ...]]], what: str) -> None:
        """Run ``statements`` as one transaction; a constraint violation is a conflict."""
        with self._lock:
            if self._db.in_transaction:  # inside transaction(): the outer one commits
                try:
                    for sql, args in statements:
                        self._db.execute(sql, args)
                except sqlite3.IntegrityError as err:
                    raise StoreConflict(f"{what}: already stored ({err})") from err
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for sql, args in statements:
                    self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError as err:
                self._db.execute("ROLLBACK")
                raise StoreConflict(f"{what}: already stored ({err})") from err
            except BaseException as err:
                unavailable = _rolled_back(self._db, err)
                if unavailable is None:
                    raise
                raise unavailable from err

    # -- registry ---------------------------------------------------------------------------

    def put_instance(self, instance: Instance) -> None:
        self._write(
            [
                (
                    "INSERT OR REPLACE INTO instance VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        instance.instance_id,
                        instance.signing_key,
                        instance.sealing_key,
                        instance.mpc_address,
                        instance.registered_at,
                        instance.certificate,
                        instance.key_binding,
                    ),
                )
            ],
            f"instance {instance.instance_id}",
        )
        self._instances.pop(instance.instance_id, None)

    def get_instance(self, instance_id: str) -> Instance | None:
        with self._lock:
            if instance_id in self._instances:
                return self._instances[instance_id]
            rows = self._query("SELECT * FROM instance WHERE instance_id = ?", instance_id)
            found = Instance(*rows[0]) if rows else None
            if found is not None and not self._db.in_transaction:
                self._instances[instance_id] = found
            return found

    def instances(self) -> list[Instance]:
        return [Instance(*r) for r in self._query("SELECT * FROM instance ORDER BY instance_id")]

    # -- rounds -----------------------------------------------------------------------------

    def save_round(self, rnd: Round) -> None:
        with self._lock:
            self._write([self._round_row(rnd), *self._purge(rnd)], f"round {rnd.round_id}")
            self._latest_known = False

    def get_round(self, round_id: int) -> Round | None:
        rows = self._query("SELECT record FROM round WHERE round_id = ?", round_id)
        return round_from_json(rows[0][0]) if rows else None

    def latest_round(self) -> Round | None:
        with self._lock:
            if self._latest_known:
                return self._latest
            rows = self._query("SELECT record FROM round ORDER BY round_id DESC LIMIT 1")
            found = round_from_json(rows[0][0]) if rows else None
            if not self._db.in_transaction:
                self._latest, self._latest_known = found, True
            return found

    def committees(self, before: int, count: int) -> list[tuple[str, ...]]:
        rows = self._query(
            "SELECT record FROM round WHERE round_id >= ? AND round_id < ? ORDER BY round_id DESC",
            before - count,
            before,
        )
        found = (round_from_json(r[0]).committee for r in rows)
        return [c for c in found if c]

    @staticmethod
    def _round_row(rnd: Round) -> tuple[str, tuple[object, ...]]:
        return ("INSERT OR REPLACE INTO round VALUES (?, ?)", (rnd.round_id, round_to_json(rnd)))

    @staticmethod
    def _purge(rnd: Round) -> list[tuple[str, tuple[object, ...]]]:
        """Statements dropping a finished round's envelopes (their digests stay)."""
        if not rnd.phase.terminal:
            return []
        return [
            ("DELETE FROM envelope WHERE round_id = ?", (rnd.round_id,)),
            ("UPDATE result SET model = X'', gram_slice = X'' WHERE round_id = ?", (rnd.round_id,)),
        ]

    # -- seed -------------------------------------------------------------------------------

    def add_commit(self, round_id: int, instance_id: str, commitment: bytes) -> None:
        self._write(
            [("INSERT INTO seed_commit VALUES (?, ?, ?)", (round_id, instance_id, commitment))],
            f"commitment of {instance_id} in round {round_id}",
        )

    def commits(self, round_id: int) -> dict[str, bytes]:
        rows = self._query(
            "SELECT instance_id, commitment FROM seed_commit WHERE round_id = ?", round_id
        )
        return {k: bytes(v) for k, v in rows}

    def commitment(self, round_id: int, instance_id: str) -> bytes | None:
        rows = self._query(
            "SELECT commitment FROM seed_commit WHERE round_id = ? AND instance_id = ?",
            round_id,
            instance_id,
        )
        return bytes(rows[0][0]) if rows else None

    def tally(self, round_id: int) -> tuple[int, int, int]:
        rows = self._query(
            "SELECT (SELECT count(*) FROM seed_commit WHERE round_id = ?1),"
            " (SELECT count(*) FROM seed_reveal WHERE round_id = ?1),"
            " (SELECT count(*) FROM contribution WHERE round_id = ?1)",
            round_id,
        )
        commits, reveals, contributions = rows[0]
        return int(commits), int(reveals), int(contributions)

    def add_reveal(self, round_id: int, instance_id: str, secret: bytes) -> None:
        self._write(
            [("INSERT INTO seed_reveal VALUES (?, ?, ?)", (round_id, instance_id, secret))],
            f"reveal of {instance_id} in round {round_id}",
        )

    def reveals(self, round_id: int) -> dict[str, bytes]:
        rows = self._query(
            "SELECT instance_id, secret FROM seed_reveal WHERE round_id = ?", round_id
        )
        return {k: bytes(v) for k, v in rows}

    # -- contributions ----------------------------------------------------------------------

    def add_contribution(self, contribution: Contribution) -> None:
        c = contribution
        statements: list[tuple[str, tuple[object, ...]]] = [
            (
                "INSERT INTO contribution VALUES (?, ?, ?, ?, ?)",
                (c.round_id, c.contributor, c.weight, c.digest, c.size),
            )
        ]
        statements += [
            ("INSERT INTO envelope VALUES (?, ?, ?, ?)", (c.round_id, c.contributor, m, blob))
            for m, blob in sorted(c.envelopes.items())
        ]
        self._write(statements, f"contribution of {c.contributor} to round {c.round_id}")

    def contributions(self, round_id: int) -> dict[str, float]:
        rows = self._query(
            "SELECT contributor, weight FROM contribution WHERE round_id = ?", round_id
        )
        return {k: float(w) for k, w in rows}

    def upload_bytes(self, round_id: int) -> int:
        rows = self._query("SELECT SUM(size) FROM contribution WHERE round_id = ?", round_id)
        return int(rows[0][0] or 0)

    def digests(self, round_id: int) -> dict[str, bytes]:
        rows = self._query(
            "SELECT contributor, digest FROM contribution WHERE round_id = ?", round_id
        )
        return {k: bytes(d) for k, d in rows}

    def envelopes_for(self, round_id: int, member: str) -> list[tuple[str, float, bytes]]:
        rows = self._query(
            "SELECT e.contributor, c.weight, e.data FROM envelope e JOIN contribution c "
            "ON c.round_id = e.round_id AND c.contributor = e.contributor "
            "WHERE e.round_id = ? AND e.member = ? ORDER BY e.contributor",
            round_id,
            member,
        )
        return [(k, float(w), bytes(d)) for k, w, d in rows]

    # -- results and models -----------------------------------------------------------------

    def add_result(self, result: MemberResult) -> None:
        r = result
        self._write(
            [
                (
                    "INSERT INTO result (round_id, member, ok, reason, model_hash, accepted, "
                    "signature, model, gram_slice, slice_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        r.round_id,
                        r.member,
                        int(r.ok),
                        r.reason,
                        r.model_hash,
                        json.dumps(list(r.accepted)),
                        r.signature,
                        r.model,
                        r.gram_slice,
                        r.slice_hash,
                    ),
                )
            ],
            f"result of {r.member} in round {r.round_id}",
        )

    def results(self, round_id: int) -> dict[str, MemberResult]:
        rows = self._query("SELECT * FROM result WHERE round_id = ?", round_id)
        return {
            r[1]: MemberResult(
                round_id=int(r[0]),
                member=r[1],
                ok=bool(r[2]),
                reason=r[3],
                model_hash=bytes(r[4]),
                accepted=tuple(json.loads(r[5])),
                signature=bytes(r[6]),
                model=bytes(r[7]),
                gram_slice=bytes(r[8]),
                slice_hash=bytes(r[9]),
            )
            for r in rows
        }

    def put_model(self, model: PublishedModel) -> None:
        self._write([self._model_row(model)], f"model v{model.version}")

    def publish(self, rnd: Round, model: PublishedModel) -> None:
        check_publishable(rnd, model)
        with self._lock:
            self._write(
                [self._model_row(model), self._round_row(rnd), *self._purge(rnd)],
                f"publishing round {rnd.round_id}",
            )
            self._latest_known = False

    @staticmethod
    def _model_row(model: PublishedModel) -> tuple[str, tuple[object, ...]]:
        return (
            "INSERT INTO model (version, n_items, dim, data, gram_slice) VALUES (?, ?, ?, ?, ?)",
            (model.version, model.n_items, model.dim, model.data, model.gram_slice),
        )

    def get_model(self, version: int) -> PublishedModel | None:
        return self._model("WHERE version = ?", version)

    def latest_model(self) -> PublishedModel | None:
        return self._model("ORDER BY version DESC LIMIT 1")

    def _model(self, where: str, *args: object) -> PublishedModel | None:
        rows = self._query(f"SELECT * FROM model {where}", *args)
        if not rows:
            return None
        version, n_items, dim, data, gram_slice = rows[0]
        return PublishedModel(
            int(version), int(n_items), int(dim), bytes(data), gram_slice=bytes(gram_slice)
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _rolled_back(db: sqlite3.Connection, err: BaseException) -> LauncherUnreachable | None:
    """Roll back what failed; a store that cannot write (a full disk, an I/O error) is
    :class:`LauncherUnreachable` for now: nothing of the call was kept, try again later."""
    if db.in_transaction:
        db.execute("ROLLBACK")
    if isinstance(err, sqlite3.OperationalError):
        return LauncherUnreachable(f"the launcher's store cannot write ({err}); nothing was kept")
    return None
