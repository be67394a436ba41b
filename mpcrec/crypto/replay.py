"""The replay registry: the contribution nonces a committee member has accepted.

Every envelope carries a fresh 16-byte contribution nonce under its contributor's signature
(:mod:`mpcrec.crypto.envelope`); a member accepts each ``(contributor, nonce)`` once. Kept
in memory only, a restart forgot them: a launcher could hand a restarted member the same
round's envelopes again, have it compute the round a second time and so obtain two noisy
results over the same inputs. With a ``path`` the registry is a SQLite file in the member's
state directory and survives restarts.

**Bounded.** The registry keeps the nonces of the current round only. That is safe because
the round binding makes every other replay impossible already: an envelope's signed header
names its round id and base model hash, and :func:`~mpcrec.crypto.envelope.open_share`
refuses an envelope of any round but the one being computed (and of any other base model).
So when a member enters round ``r`` (:meth:`NonceRegistry.enter_round`) the nonces of rounds
before ``r`` can go, on one condition, kept with them: the member never computes a round
before ``r`` again (``floor``, persisted). Without that floor a launcher could announce an
old round id a second time and replay its envelopes into a registry that forgot them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mpcrec.errors import ProtocolError, StorageError

#: The registry's file in a member's state directory.
REPLAY_FILE = "replays.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nonces (
    contributor TEXT NOT NULL, nonce BLOB NOT NULL, round INTEGER NOT NULL,
    PRIMARY KEY (contributor, nonce));
CREATE TABLE IF NOT EXISTS floor (one INTEGER PRIMARY KEY CHECK (one = 1), round INTEGER);
"""


class NonceRegistry:
    """The ``(contributor, nonce)`` pairs a member has accepted (replay protection).

    Parameters
    ----------
    path:
        A SQLite file keeping them across restarts (created if missing); ``None`` keeps
        them in memory (tests, one-process committees).
    """

    def __init__(self, path: Path | None = None) -> None:
        try:
            self._db = sqlite3.connect(":memory:" if path is None else str(path))
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as err:
            raise StorageError(
                f"cannot open the replay registry {path}: {err}",
                hint="give the node a writable state directory",
            ) from None
        row = self._db.execute("SELECT round FROM floor").fetchone()
        self.floor: int | None = None if row is None else int(row[0])
        self.round = -1 if self.floor is None else self.floor

    def __contains__(self, key: tuple[str, bytes]) -> bool:
        found = self._db.execute(
            "SELECT 1 FROM nonces WHERE contributor = ? AND nonce = ?", key
        ).fetchone()
        return found is not None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM nonces").fetchone()[0])

    def enter_round(self, round_id: int) -> None:
        """Start computing ``round_id``: refuse a round before the floor, forget the nonces
        of earlier rounds and raise the floor to ``round_id`` (see the module docstring)."""
        if self.floor is not None and round_id < self.floor:
            raise ProtocolError(
                f"round {round_id}: this member already computed round {self.floor}; "
                "it never computes an earlier round again (a replayed round id)"
            )
        with self._db:
            self._db.execute("DELETE FROM nonces WHERE round < ?", (round_id,))
            self._db.execute("INSERT OR REPLACE INTO floor (one, round) VALUES (1, ?)", (round_id,))
        self.floor = self.round = round_id

    def add(self, contributor_id: str, nonce: bytes) -> None:
        """Record a nonce; raises :class:`ProtocolError` if it was seen before."""
        try:
            with self._db:
                self._db.execute(
                    "INSERT INTO nonces (contributor, nonce, round) VALUES (?, ?, ?)",
                    (contributor_id, nonce, self.round),
                )
        except sqlite3.IntegrityError:
            raise ProtocolError(
                f"replayed envelope: contributor {contributor_id!r} nonce {nonce.hex()} seen before"
            ) from None

    def close(self) -> None:
        """Close the file."""
        self._db.close()
