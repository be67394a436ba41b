"""Faults with real processes: a launcher killed with SIGKILL, a member killed mid-round,
a contributor sending an out-of-range update."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from launch.round import Phase
from launch.round_log import GRACE_S
from launch.sqlite_store import SQLiteStore
from tests.system.federation import Federation, published

NODES = [f"tube-{i}" for i in range(5)]
#: Faults abort rounds after the contributions froze: without this opt-out no node would
#: contribute to that base model again (``model-reused``, docs/threat-model.md).
REUSE = {"allow_model_reuse": True}
MODEL = {"n_items": 12, "dim": 4, "aggregation": "plaintext", "clip_norm": 20.0}
RULES = {
    "committee_size": 3,
    "min_contributors": 3,
    "cooldown": 1,
    "commit_s": 5,
    "reveal_s": 5,
    "collect_s": 8,
    "compute_s": 8,
}


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    with Federation(tmp_path, NODES, privacy_floor=REUSE) as fed:
        yield fed


def _versions_move_only_on_publish(rounds: list) -> None:  # type: ignore[type-arg]
    version = 0
    for rnd in rounds:
        assert rnd.model_version == version, (
            f"round {rnd.round_id} starts from v{rnd.model_version}"
        )
        if rnd.phase is Phase.PUBLISHED:
            assert rnd.published_version == version + 1
            version += 1


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_launcher_killed_and_restarted_federation_carries_on(federation: Federation) -> None:
    # four: the round the kill lands in (or just after) and one begun and ended wholly after
    # the restart (six took two more rounds of beacon waits, some 22 s, for no other check)
    federation.write(model=MODEL, rounds=RULES, schedule={"rounds": 4, "min_instances": 5})
    federation.start("launcher")
    for name in NODES:
        federation.start(name)
    federation.wait_for(lambda rs: len(published(rs)) >= 2, 60, "2 published rounds")
    store = SQLiteStore(federation.db)
    before = {v: m.data for v in (1, 2) if (m := store.get_model(v)) is not None}
    store.close()

    federation.kill("launcher")  # SIGKILL, mid-round or between rounds
    time.sleep(0.5)
    federation.start("launcher")
    rounds = federation.wait_for(lambda rs: len(published(rs)) >= 4, 100, "4 published rounds")

    _versions_move_only_on_publish(rounds)
    store = SQLiteStore(federation.db)
    try:
        for version, data in before.items():
            kept = store.get_model(version)
            assert kept is not None and kept.data == data
        assert store.get_model(4) is not None
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_member_killed_mid_round_aborts_and_a_new_committee_publishes(
    federation: Federation,
) -> None:
    slow = {name: {"faults": {"member_delay_s": 1.5}} for name in NODES}
    federation.write(
        model=MODEL, rounds=RULES, schedule={"rounds": 3, "min_instances": 5}, node_extra=slow
    )
    federation.start("launcher")
    for name in NODES:
        federation.start(name)
    rounds = federation.wait_for(
        lambda rs: bool(rs) and rs[-1].phase is Phase.COMPUTING, 60, "a computing round"
    )
    victim_round = rounds[-1]
    victim = victim_round.committee[0]

    federation.kill(victim)
    rounds = federation.wait_for(
        lambda rs: any(
            r.phase is Phase.PUBLISHED and r.round_id > victim_round.round_id for r in rs
        ),
        100,
        "a publish after the kill",
    )

    killed = next(r for r in rounds if r.round_id == victim_round.round_id)
    assert killed.phase is Phase.ABORTED and victim in killed.reason
    _versions_move_only_on_publish(rounds)
    after = [r for r in rounds if r.round_id > killed.round_id]
    assert all(victim not in r.committee and victim not in r.contributors for r in after)
    assert all(len(set(r.contributors)) == len(r.contributors) for r in rounds)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_out_of_range_contribution_rejected_round_publishes(federation: Federation) -> None:
    # a malicious node: a huge update, and it does not clip it as honest nodes do
    bad = {"tube-0": {"trainer": {"kind": "drift", "scale": 1000.0}, "faults": {"skip_clip": True}}}
    federation.write(
        model=MODEL, rounds=RULES, schedule={"rounds": 2, "min_instances": 5}, node_extra=bad
    )
    federation.start("launcher")
    for name in NODES:
        federation.start(name)

    rounds = federation.wait_for(lambda rs: len(published(rs)) >= 2, 90, "2 published rounds")

    store = SQLiteStore(federation.db)
    try:
        for rnd in published(rounds)[:2]:
            assert "tube-0" in rnd.contributors
            for result in store.results(rnd.round_id).values():
                assert set(result.accepted) == set(NODES) - {"tube-0"}
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_secure_member_killed_in_computing_phase_aborts_then_publishes(tmp_path: Path) -> None:
    """Secure committees: a member dies while its round is computing.

    Once the parties are warm a secure round of this tiny model computes in about 0.1 s, too
    fast to catch by polling the store, so every member waits ``member_delay_s`` before it
    fetches its shares: the victim dies inside the computing phase, before its party joins,
    and the survivors' session set-up times out. A member killed inside the MPC itself is
    tested at the party level in tests/secure/test_faults.py. The survivors' step timeouts
    differ, so the later one fails after the abort: the launcher's summary of the round
    names both failures and the silent victim (:mod:`launch.round_log`).
    """
    names = [f"tube-{i}" for i in range(4)]
    fed = Federation(tmp_path, names, privacy_floor=REUSE)
    # distinct step timeouts: the survivors report their failures one after the other, the
    # later one after the abort (refused as too late: the launcher's summary still names it)
    quick = {
        name: {"mpc_timeout_s": 6.0 + 4.0 * k, "faults": {"member_delay_s": 1.5}}
        for k, name in enumerate(names)
    }
    rules = {**RULES, "compute_s": 60}
    fed.write(
        model={**MODEL, "aggregation": "secure"},
        rounds=rules,
        schedule={"rounds": 2, "min_instances": 4},
        node_extra=quick,
    )
    try:
        fed.start("launcher")
        for name in names:
            fed.start(name)
        fed.wait_for(lambda rs: len(published(rs)) >= 1, 150, "a first secure round")
        rounds = fed.wait_for(
            lambda rs: rs[-1].phase is Phase.COMPUTING, 60, "the second round computing"
        )
        victim_round = rounds[-1]
        victim = victim_round.committee[1]

        fed.kill(victim)  # the node and its CrypTen party, mid-session
        rounds = fed.wait_for(lambda rs: len(published(rs)) >= 2, 150, "a publish after the kill")
        summary = _abort_summary(fed, victim_round.round_id, timeout=GRACE_S + 30)
    finally:
        fed.stop_all()

    killed = next(r for r in rounds if r.round_id == victim_round.round_id)
    assert killed.phase is Phase.ABORTED, killed
    assert "failed" in killed.reason or "no result" in killed.reason
    retry = published(rounds)[1]
    assert retry.round_id > killed.round_id and victim not in retry.contributors
    assert victim not in retry.committee
    _versions_move_only_on_publish(rounds)
    # the launcher's one line for the round: each survivor's failure (the later one came
    # after the abort), the victim silent
    survivors = sorted((m for m in killed.committee if m != victim), key=names.index)
    late = [line for line in _launcher_lines(fed) if f"round {killed.round_id} (" in line]
    assert len(late) == 1 and f"{survivors[1]} failed too: " in late[0], late
    assert f"{survivors[0]} failed: '{survivors[0]}: " in summary, summary
    assert f"{survivors[1]} failed: '{survivors[1]}: " in summary, summary
    assert f"{victim}: no report (" in summary, summary


def _launcher_lines(fed: Federation) -> list[str]:
    return (fed.root / "launcher.log").read_text().splitlines()


def _abort_summary(fed: Federation, round_id: int, *, timeout: float) -> str:
    """The launcher's summary line of aborted round ``round_id``, once it logged it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            line
            for line in _launcher_lines(fed)
            if f"round {round_id} aborted (" in line and "; its members: " in line
        ]
        if found:
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no summary of round {round_id}: {fed.log('launcher')}")
