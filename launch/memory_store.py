"""A :class:`~launch.store.LauncherStore` in memory: for tests and throwaway runs."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from contextlib import AbstractContextManager
from typing import TypeVar

from launch.round import Round
from launch.store import (
    Contribution,
    Instance,
    MemberResult,
    PublishedModel,
    StoreConflict,
    check_publishable,
    committee_rows,
)

_V = TypeVar("_V")


class InMemoryStore:
    """Launcher state in dictionaries, guarded by one lock. Lost when the process ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instances: dict[str, Instance] = {}
        self._rounds: dict[int, Round] = {}
        self._commits: dict[int, dict[str, bytes]] = {}
        self._reveals: dict[int, dict[str, bytes]] = {}
        self._contributions: dict[int, dict[str, Contribution]] = {}
        self._digests: set[bytes] = set()
        self._results: dict[int, dict[str, MemberResult]] = {}
        self._models: dict[int, PublishedModel] = {}

    def put_instance(self, instance: Instance) -> None:
        with self._lock:
            self._instances[instance.instance_id] = instance

    def get_instance(self, instance_id: str) -> Instance | None:
        with self._lock:
            return self._instances.get(instance_id)

    def instances(self) -> list[Instance]:
        with self._lock:
            return [self._instances[k] for k in sorted(self._instances)]

    def save_round(self, rnd: Round) -> None:
        with self._lock:
            self._rounds[rnd.round_id] = rnd
            if rnd.phase.terminal:  # drop the envelopes, keep weights and digests
                found = self._contributions.get(rnd.round_id, {})
                for key, c in found.items():
                    found[key] = dataclasses.replace(c, envelopes={})
                answers = self._results.get(rnd.round_id, {})
                for key, r in answers.items():
                    answers[key] = dataclasses.replace(r, model=b"", gram_slice=b"")

    def get_round(self, round_id: int) -> Round | None:
        with self._lock:
            return self._rounds.get(round_id)

    def latest_round(self) -> Round | None:
        with self._lock:
            return self._rounds[max(self._rounds)] if self._rounds else None

    def committees(self, before: int, count: int) -> list[tuple[str, ...]]:
        with self._lock:
            return committee_rows(list(self._rounds.values()), before, count)

    def add_commit(self, round_id: int, instance_id: str, commitment: bytes) -> None:
        self._add_unique(self._commits, round_id, instance_id, commitment, "commitment")

    def commits(self, round_id: int) -> dict[str, bytes]:
        with self._lock:
            return dict(self._commits.get(round_id, {}))

    def commitment(self, round_id: int, instance_id: str) -> bytes | None:
        with self._lock:
            return self._commits.get(round_id, {}).get(instance_id)

    def tally(self, round_id: int) -> tuple[int, int, int]:
        with self._lock:
            return (
                len(self._commits.get(round_id, {})),
                len(self._reveals.get(round_id, {})),
                len(self._contributions.get(round_id, {})),
            )

    def add_reveal(self, round_id: int, instance_id: str, secret: bytes) -> None:
        self._add_unique(self._reveals, round_id, instance_id, secret, "reveal")

    def reveals(self, round_id: int) -> dict[str, bytes]:
        with self._lock:
            return dict(self._reveals.get(round_id, {}))

    def add_contribution(self, contribution: Contribution) -> None:
        digest = contribution.digest
        with self._lock:
            mine = self._contributions.setdefault(contribution.round_id, {})
            if contribution.contributor in mine:
                raise StoreConflict(
                    f"{contribution.contributor} already contributed to round "
                    f"{contribution.round_id}"
                )
            if digest in self._digests:
                raise StoreConflict(f"replayed upload (digest {digest.hex()[:16]}…)")
            mine[contribution.contributor] = contribution
            self._digests.add(digest)

    def contributions(self, round_id: int) -> dict[str, float]:
        with self._lock:
            return {k: c.weight for k, c in self._contributions.get(round_id, {}).items()}

    def upload_bytes(self, round_id: int) -> int:
        with self._lock:
            return sum(c.size for c in self._contributions.get(round_id, {}).values())

    def digests(self, round_id: int) -> dict[str, bytes]:
        with self._lock:
            return {k: c.digest for k, c in self._contributions.get(round_id, {}).items()}

    def transaction(self) -> AbstractContextManager[None]:
        """Changes apply one by one in memory: nothing to group."""
        return contextlib.nullcontext()

    def envelopes_for(self, round_id: int, member: str) -> list[tuple[str, float, bytes]]:
        with self._lock:
            found = self._contributions.get(round_id, {})
            return [
                (k, found[k].weight, found[k].envelopes[member])
                for k in sorted(found)
                if member in found[k].envelopes
            ]

    def add_result(self, result: MemberResult) -> None:
        self._add_unique(self._results, result.round_id, result.member, result, "result")

    def results(self, round_id: int) -> dict[str, MemberResult]:
        with self._lock:
            return dict(self._results.get(round_id, {}))

    def put_model(self, model: PublishedModel) -> None:
        with self._lock:
            if model.version in self._models:
                raise StoreConflict(f"model v{model.version} exists already")
            self._models[model.version] = model

    def publish(self, rnd: Round, model: PublishedModel) -> None:
        check_publishable(rnd, model)
        with self._lock:
            if model.version in self._models:
                raise StoreConflict(f"model v{model.version} exists already")
            self._models[model.version] = model
        self.save_round(rnd)

    def get_model(self, version: int) -> PublishedModel | None:
        with self._lock:
            return self._models.get(version)

    def latest_model(self) -> PublishedModel | None:
        with self._lock:
            return self._models[max(self._models)] if self._models else None

    def close(self) -> None:
        """Nothing to release."""

    def _add_unique(
        self, table: dict[int, dict[str, _V]], round_id: int, key: str, value: _V, what: str
    ) -> None:
        with self._lock:
            row = table.setdefault(round_id, {})
            if key in row:
                raise StoreConflict(f"{key} already sent a {what} in round {round_id}")
            row[key] = value
