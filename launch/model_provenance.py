"""What the launcher serves with a model: the committee that signed it.

A node takes no model version after 0 on the launcher's word
(:mod:`mpcrec.node.model_provenance`): it wants the signed ``result_signature`` entry of
every member of the round that published the version, each with the keys, certificate and
key binding that vouch for the member's signing key. Those entries are in the launcher's
audit log; :class:`CommitteeSignatures` finds them (the newest ``publish`` entry of the
version, then that round's results naming the published hash), keeps them per version and
attaches them to the model (``PublishedModel.committee``). Without an audit log it attaches
nothing, and nodes refuse every model after the first (``model-unsigned``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from launch.store import LauncherStore
from mpcrec.audit.entries import Kind, LogEntry
from mpcrec.audit.log import AuditLog
from mpcrec.federation.published_model import CommitteeSignature, PublishedModel

#: Entries read at a time, newest first, looking for a version's publish entry.
WINDOW = 4096
#: Versions before the newest looked up whose signatures stay kept.
KEPT = 4


class CommitteeSignatures:
    """The signed results of each published version, found in the log once and kept (the
    newest :data:`KEPT` versions)."""

    def __init__(
        self, log: AuditLog | None, store: LauncherStore, log_lock: AbstractContextManager[Any]
    ) -> None:
        self.log = log
        self.store = store
        self._log_lock = log_lock  # the launcher's: the log shares the store's connection
        self._lock = threading.Lock()
        self._found: dict[int, tuple[bytes, tuple[CommitteeSignature, ...]]] = {}

    def attach(self, model: PublishedModel) -> PublishedModel:
        """``model`` with its committee's signatures (unchanged for version 0 or none)."""
        if model.version <= 0 or self.log is None:
            return model
        with self._lock:  # a thousand fetches a round: the kept answer takes no launcher lock
            known = self._found.get(model.version)
        if known is None or known[0] != model.model_hash:
            with self._log_lock, self._lock:  # the launcher's lock first, as every caller
                known = (model.model_hash, self._search(model.version, model.model_hash))
                if known[1]:
                    self._found[model.version] = known
                    for old in [v for v in self._found if v < model.version - KEPT]:
                        del self._found[old]  # nodes ask for the newest versions only
        return dataclasses.replace(model, committee=known[1])

    def _search(self, version: int, model_hash: bytes) -> tuple[CommitteeSignature, ...]:
        """The results of the round that published ``version`` naming ``model_hash``."""
        wanted = model_hash.hex()
        publish_round: int | None = None
        results: list[LogEntry] = []
        for entry in self._newest_first():
            if publish_round is None:
                published = entry.kind == Kind.PUBLISH
                if published and entry.payload.get("model_version") == version:
                    publish_round = entry.round
            elif entry.round != publish_round:
                continue
            elif entry.kind == Kind.RESULT_SIGNATURE:
                if entry.payload.get("result", {}).get("model_hash") == wanted:
                    results.append(entry)
            elif entry.kind == Kind.ROUND_OPEN:
                break  # the round's first entry: nothing of it before
        return self._vouched(results)

    def _newest_first(self) -> Iterator[LogEntry]:
        """The log's entries, newest first, read :data:`WINDOW` at a time."""
        assert self.log is not None
        stop = self.log.size
        while stop > 0:
            start = max(0, stop - WINDOW)
            yield from reversed(list(self.log.entries(start, stop)))
            stop = start

    def _vouched(self, results: list[LogEntry]) -> tuple[CommitteeSignature, ...]:
        """Each result entry with its author's keys, certificate and binding."""
        out = []
        for entry in reversed(results):
            member = self.store.get_instance(entry.author)
            if member is None:
                continue
            out.append(
                CommitteeSignature(
                    entry.to_json(),
                    member.signing_key,
                    member.sealing_key,
                    member.certificate,
                    member.key_binding,
                )
            )
        return tuple(out)
