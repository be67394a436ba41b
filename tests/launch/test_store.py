"""One contract, run against every LauncherStore backend (SQLite and in-memory)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from launch.memory_store import InMemoryStore
from launch.round import Phase, Round, RoundPolicy
from launch.sqlite_store import SQLiteStore
from launch.store import (
    Contribution,
    Instance,
    LauncherStore,
    MemberResult,
    PublishedModel,
    StoreConflict,
)

POLICY = RoundPolicy(committee_size=2, min_contributors=2)


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LauncherStore]:
    made: LauncherStore = (
        SQLiteStore(tmp_path / "launcher.sqlite") if request.param == "sqlite" else InMemoryStore()
    )
    try:
        yield made
    finally:
        made.close()


def _instance(name: str) -> Instance:
    return Instance(name, b"s" * 32, b"x" * 32, f"{name}:7000", 1.0)


def _computing_round(round_id: int = 1) -> Round:
    rnd = Round.open(round_id, 0, ["a", "b", "c"], now=0.0, policy=POLICY)
    rnd = rnd.close_commits(["a", "b", "c"], now=1.0, policy=POLICY)
    rnd = rnd.draw(b"seed", ["b", "a"], "", policy=POLICY).start_collecting(now=2.0, policy=POLICY)
    return rnd.start_computing({"a": 1.0, "c": 2.0}, now=3.0, policy=POLICY)


class TestLauncherStoreContract:
    def test_instances_upsert_and_list_sorted(self, store: LauncherStore) -> None:
        store.put_instance(_instance("b"))
        store.put_instance(_instance("a"))
        store.put_instance(Instance("a", b"s" * 32, b"x" * 32, "elsewhere:1", 2.0))

        assert [i.instance_id for i in store.instances()] == ["a", "b"]
        assert store.get_instance("a") == Instance("a", b"s" * 32, b"x" * 32, "elsewhere:1", 2.0)
        assert store.get_instance("zz") is None

    def test_an_instances_certificate_and_key_binding_round_trip(
        self, store: LauncherStore
    ) -> None:
        bound = Instance("a", b"s" * 32, b"x" * 32, "a:1", 1.0, b"cert-der", b"binding")
        store.put_instance(bound)
        store.put_instance(_instance("b"))  # unbound: empty, not missing

        assert store.get_instance("a") == bound
        assert [(i.certificate, i.key_binding) for i in store.instances()] == [
            (b"cert-der", b"binding"),
            (b"", b""),
        ]

    def test_round_roundtrip_and_latest(self, store: LauncherStore) -> None:
        first = _computing_round(1)
        second = Round.open(2, 0, ["a", "b"], now=5.0, policy=POLICY)

        store.save_round(first)
        store.save_round(second)

        assert store.get_round(1) == first
        assert store.latest_round() == second
        assert store.get_round(3) is None

    def test_committees_newest_first_skipping_rounds_without_one(
        self, store: LauncherStore
    ) -> None:
        store.save_round(_computing_round(1))
        store.save_round(Round.open(2, 0, ["a"], now=0.0, policy=POLICY).abort("none"))
        store.save_round(_computing_round(3))

        assert store.committees(before=4, count=3) == [("b", "a"), ("b", "a")]
        assert store.committees(before=4, count=1) == [("b", "a")]
        assert store.committees(before=3, count=1) == []

    def test_commit_and_reveal_once(self, store: LauncherStore) -> None:
        store.add_commit(1, "a", b"c1")
        store.add_reveal(1, "a", b"r1")

        with pytest.raises(StoreConflict):
            store.add_commit(1, "a", b"c2")
        with pytest.raises(StoreConflict):
            store.add_reveal(1, "a", b"r2")
        assert store.commits(1) == {"a": b"c1"}
        assert store.reveals(1) == {"a": b"r1"}
        assert store.commits(2) == {}

    def test_one_commitment_and_the_tally_of_a_round(self, store: LauncherStore) -> None:
        store.add_commit(1, "a", b"c1")
        store.add_commit(1, "b", b"c2")
        store.add_reveal(1, "a", b"r1")
        store.add_commit(2, "a", b"c3")
        store.add_contribution(Contribution(1, "b", 1.0, {"a": b"e"}))

        assert store.commitment(1, "b") == b"c2"
        assert store.commitment(1, "c") is None and store.commitment(3, "a") is None
        assert store.tally(1) == (2, 1, 1)
        assert store.tally(2) == (1, 0, 0)
        assert store.tally(3) == (0, 0, 0)

    def test_contribution_counted_once_and_replay_refused(self, store: LauncherStore) -> None:
        upload = Contribution(1, "a", 3.0, {"m1": b"one", "m2": b"two"})
        store.add_contribution(upload)

        with pytest.raises(StoreConflict):
            store.add_contribution(Contribution(1, "a", 3.0, {"m1": b"new", "m2": b"bytes"}))
        with pytest.raises(StoreConflict):  # the same bytes again, in a later round
            store.add_contribution(Contribution(2, "a", 3.0, {"m1": b"one", "m2": b"two"}))
        assert store.contributions(1) == {"a": 3.0}
        assert store.contributions(2) == {}
        assert store.upload_bytes(1) == 6

    def test_envelopes_for_member_in_contributor_order(self, store: LauncherStore) -> None:
        store.add_contribution(Contribution(1, "c", 2.0, {"m1": b"c1", "m2": b"c2"}))
        store.add_contribution(Contribution(1, "a", 1.0, {"m1": b"a1", "m2": b"a2"}))

        assert store.envelopes_for(1, "m2") == [("a", 1.0, b"a2"), ("c", 2.0, b"c2")]
        assert store.envelopes_for(1, "nobody") == []

    def test_envelopes_dropped_when_round_ends_digests_kept(self, store: LauncherStore) -> None:
        rnd = _computing_round(1)
        store.add_contribution(Contribution(1, "a", 1.0, {"b": b"x", "a": b"y"}))

        store.save_round(rnd.abort("test"))

        assert store.contributions(1) == {"a": 1.0}
        assert store.envelopes_for(1, "b") == []
        with pytest.raises(StoreConflict):
            store.add_contribution(Contribution(2, "a", 1.0, {"b": b"x", "a": b"y"}))

    def test_results_once_model_bytes_dropped_when_round_ends(self, store: LauncherStore) -> None:
        result = MemberResult(1, "a", True, "", b"h" * 32, ("a", "c"), b"sig", b"model")
        store.add_result(result)

        with pytest.raises(StoreConflict):
            store.add_result(MemberResult(1, "a", False, "late", b"", (), b""))
        assert store.results(1) == {"a": result}
        store.save_round(_computing_round(1).abort("test"))
        assert store.results(1)["a"].model == b""
        assert store.results(1)["a"].model_hash == b"h" * 32

    def test_publish_stores_round_and_model_together(self, store: LauncherStore) -> None:
        store.put_model(PublishedModel(0, 2, 2, b"\x00" * 32))
        rnd = _computing_round(1).publish({"a": b"h", "b": b"h"})

        store.publish(rnd, PublishedModel(1, 2, 2, b"\x01" * 32))

        assert store.get_round(1) == rnd
        latest = store.latest_model()
        assert latest is not None and latest.version == 1 and latest.data == b"\x01" * 32
        assert store.get_model(0) == PublishedModel(0, 2, 2, b"\x00" * 32)

    def test_publish_refuses_wrong_version_and_leaves_nothing(self, store: LauncherStore) -> None:
        rnd = _computing_round(1).publish({"a": b"h", "b": b"h"})
        store.put_model(PublishedModel(1, 2, 2, b"\x05" * 32))

        with pytest.raises(StoreConflict):
            store.publish(rnd, PublishedModel(2, 2, 2, b"\x01" * 32))
        with pytest.raises(StoreConflict):  # v1 exists: the whole publish rolls back
            store.publish(rnd, PublishedModel(1, 2, 2, b"\x01" * 32))
        assert store.get_round(1) is None
        assert store.get_model(1) == PublishedModel(1, 2, 2, b"\x05" * 32)


def test_sqlite_state_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "launcher.sqlite"
    first = SQLiteStore(path)
    first.put_instance(_instance("a"))
    first.save_round(_computing_round(1))
    first.put_model(PublishedModel(0, 1, 1, b"\x00" * 8))
    first.close()

    again = SQLiteStore(path)
    try:
        assert again.get_instance("a") == _instance("a")
        latest = again.latest_round()
        assert latest is not None and latest.phase is Phase.COMPUTING
        assert latest.contributors == ("a", "c") and latest.weights == (1.0, 2.0)
    finally:
        again.close()


def test_sqlite_unusable_path_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    with pytest.raises(Exception, match="cannot open the launcher store"):
        SQLiteStore(blocker / "launcher.sqlite")


def test_a_database_from_before_key_bindings_is_migrated(tmp_path: Path) -> None:
    # Prepare: the instance table as it was before certificates and bindings
    path = tmp_path / "launcher.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE instance (instance_id TEXT PRIMARY KEY, signing_key BLOB NOT NULL, "
        "sealing_key BLOB NOT NULL, mpc_address TEXT NOT NULL, registered_at REAL NOT NULL);"
    )
    old.execute("INSERT INTO instance VALUES ('a', ?, ?, 'a:1', 1.0)", (b"s" * 32, b"x" * 32))
    old.commit()
    old.close()

    # Execute
    store = SQLiteStore(path)
    try:
        before = store.get_instance("a")
        store.put_instance(Instance("a", b"s" * 32, b"x" * 32, "a:1", 2.0, b"c", b"k"))
        after = store.get_instance("a")
    finally:
        store.close()

    # Assert: the old row reads as unbound, and a binding can be stored
    assert before == Instance("a", b"s" * 32, b"x" * 32, "a:1", 1.0)
    assert after is not None and (after.certificate, after.key_binding) == (b"c", b"k")
