"""What the hostile launcher's hooks share: the attack interface (:class:`Attack`), the
record of what the launcher learned (:class:`Learned`), the caller of the gRPC call being
served, and the one installed attack (:data:`ATTACK`).
"""

from __future__ import annotations

import hashlib
import json
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from launch.round import Round
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.files import write_atomic

CALLER = threading.local()  # the instance id of the gRPC call this thread serves


def current_caller() -> str:
    """The certificate id of the call being served in this thread (``""`` outside one)."""
    return str(getattr(CALLER, "id", ""))


class Learned:
    """What the hostile launcher did and learned; saved to ``path`` after each change."""

    def __init__(self, path: Path, attack: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.data: dict[str, Any] = {"attack": attack, "read": [], "errors": []}
        self.save()

    def add(self, key: str, item: Any) -> None:
        """Append ``item`` to the list ``key``."""
        with self.lock:
            self.data.setdefault(key, []).append(item)
            self._save_locked()

    def read(self, round_id: int, contributor: str, how: str, update: Any) -> None:
        """Record an update the launcher read (or reconstructed) in full."""
        values = np.ascontiguousarray(np.asarray(update, dtype=np.float64)).ravel()
        self.add(
            "read",
            {
                "round": round_id,
                "contributor": contributor,
                "how": how,
                "norm": float(np.linalg.norm(values)),
                "sha256": hashlib.sha256(values.tobytes()).hexdigest(),
            },
        )

    def save(self) -> None:
        with self.lock:
            self._save_locked()

    def _save_locked(self) -> None:
        text = json.dumps(self.data, indent=1, sort_keys=True, default=str)
        write_atomic(self.path, text.encode())


class Attack:
    """The hooks; the base class changes nothing (an honest launcher)."""

    name = "none"

    def __init__(self, learned: Learned, *, victim: str, colluders: list[str], start: int):
        self.learned = learned
        self.victim = victim
        self.colluders = colluders
        self.start = start  # 1: attack every round; else only rounds after the first publish
        self.first_published: int | None = None

    def setup(self, config: Path) -> None:
        """Read what the attack needs from ``federation.yaml`` (the launcher's state dir)."""
        from launch.config import LauncherConfig

        self.config = LauncherConfig.load(config)

    def active(self, round_id: int) -> bool:
        """Whether round ``round_id`` is attacked (see ``start``)."""
        if self.start <= 1:
            return True
        return self.first_published is not None and round_id > self.first_published

    def launcher_spec(self, spec: Any) -> Any:
        """The :class:`~mpcrec.federation.spec.FederationSpec` the launcher is built with
        (``spec``: its config's): what its first config entry signs, its round parameters,
        what ``RegisterReply`` tells."""
        return spec

    def announce(self, launcher: Any, ann: RoundAnnouncement) -> RoundAnnouncement:
        return ann

    def register_reply(self, reply: Any) -> None:
        """Change the ``RegisterReply`` protobuf in place."""

    def accept_upload(self, launcher: Any, contribution: Any) -> bool:
        """Whether to store an upload at all (``False``: drop it, answer as if stored)."""
        return True

    def uploaded(self, launcher: Any, contribution: Any) -> None:
        """Called after an upload was stored."""

    def shares(self, launcher: Any, member: str, round_id: int, shares: list[Any]) -> list[Any]:
        return shares

    def result(self, launcher: Any, result: Any) -> None:
        """Called after a member's result was stored."""

    def opened(self, launcher: Any, rnd: Round) -> Round:
        return rnd

    def save(self, launcher: Any, rnd: Round) -> Round:
        return rnd

    def tree_head(self, launcher: Any, known_size: int) -> Any:
        """``None`` for the real answer, else ``(head, proof)``."""
        return None

    def catalogue_since(
        self, catalogue: Any, since: int, versions: list[tuple[int, bytes, bytes]]
    ) -> list[tuple[int, bytes, bytes]]:
        """What FetchCatalogue serves after ``since``: ``(version, file bytes, entry)``."""
        return versions

    def opening(self, catalogue: Any, rnd: Round, named: dict[str, int] | None) -> Any:
        """What an opening round's ``round_open`` names of the catalogue (or ``None``)."""
        return named

    def stored_model(self, launcher: Any, model: Any) -> Any:
        """The ``PublishedModel`` the launcher's store gives for ``model.version`` (what it
        serves, announces the hash of and runs rounds on)."""
        return model

    def upload_attempt(self, launcher: Any, upload: Any) -> None:
        """Every upload that reached the launcher, before the launcher's own checks of it."""

    def rendered(self, rnd: Round, message: bytes) -> None:
        """The serialised announcement of ``rnd`` that every watcher is sent."""

    def watch_epoch(self) -> int:
        """A watch that began under another epoch than this one ends (the node then
        registers and watches again, as after any end of its watch)."""
        return 0

    def replayed(self, caller: str) -> list[bytes]:
        """Old serialised announcements a new watch of ``caller`` is sent before the feed's."""
        return []

    def budget_spent(self, launcher: Any, spent: bool) -> bool:
        """Whether the launcher takes its declared privacy budget as spent (``spent``: what
        its real :class:`~launch.budget.PrivacyBudget` says); ``False`` opens more rounds."""
        return spent

    def accountant(self, sample_rates: list[float], named: str) -> str:
        """The accountant the config entry names (``named``: the real choice for
        ``sample_rates``), written into the launcher's signed log at start."""
        return named

    def model_chunks(self, model: Any, chunks: list[Any]) -> list[Any]:
        """The ``ModelChunk`` messages ``GetModel`` streams for ``model`` (the first one
        carries the committee's signatures and their shared result)."""
        return chunks


ATTACK: Attack | None = None


def run_hook(default: Any, call: Callable[[Attack], Any]) -> Any:
    """Run one attack hook; a failure of the harness is recorded and the honest value used."""
    if ATTACK is None:
        return default
    try:
        return call(ATTACK)
    except Exception:
        ATTACK.learned.add("errors", traceback.format_exc(limit=8))
        return default
