"""The launcher's rounds as instances see them: one announcement per change of the round.

Both doors to the launcher use these: the gRPC service (:mod:`launch.service`) and the
in-process client (:mod:`launch.in_process`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from launch.catalogue import catalogue_fields
from launch.launcher import Launcher
from launch.round import Round
from mpcrec.federation.announcement import Member, RoundAnnouncement


def _member(launcher: Launcher, instance_id: str, rank: int) -> Member:
    inst = launcher.store.get_instance(instance_id)
    if inst is None:
        return Member(instance_id, rank)
    return Member(
        instance_id,
        rank,
        inst.sealing_key,
        inst.signing_key,
        inst.mpc_address,
        inst.certificate,
        inst.key_binding,
    )


def announcement(launcher: Launcher, rnd: Round | None) -> RoundAnnouncement | None:
    """``rnd`` with its seats' public keys and addresses, its base model's hash and the
    digests of its frozen contributions (``None`` before the first round)."""
    if rnd is None:
        return None
    base = launcher.store.get_model(rnd.model_version)
    digests = launcher.store.digests(rnd.round_id) if rnd.contributors else {}
    catalogue = launcher.catalogue.in_force(rnd.round_id) if launcher.catalogue else None
    return RoundAnnouncement(
        round_id=rnd.round_id,
        model_version=rnd.model_version,
        phase=rnd.phase,
        deadline=rnd.deadline,
        participants=rnd.participants,
        committee=tuple(_member(launcher, m, r) for r, m in enumerate(rnd.committee)),
        dealer=_member(launcher, rnd.dealer, len(rnd.committee)) if rnd.dealer else None,
        seed=rnd.seed,
        contributors=rnd.contributors,
        weights=rnd.weights,
        reason=rnd.reason,
        published_version=rnd.published_version,
        model_hash=base.model_hash if base else b"",
        digests=tuple(digests.get(c, b"") for c in rnd.contributors),
        beacon_round=rnd.beacon_round,
        beacon_at=rnd.beacon_at,
        params=launcher.params,
        params_hash=launcher.params.digest,
        **catalogue_fields(catalogue),
    )


def watch(
    launcher: Launcher, after_round: int, *, active: Callable[[], bool], heartbeat_s: float
) -> Iterator[RoundAnnouncement]:
    """Every change of the current round from ``after_round`` on, while ``active()`` and the
    launcher runs; ``active`` is asked at least every ``heartbeat_s`` seconds. (The in-process
    client's watch, a thread each; the gRPC server fans one reader out to every watcher
    instead: :mod:`launch.round_feed`.)"""
    generation, last = -1, None
    while active() and not launcher.stopping.is_set():
        rnd = launcher.current()
        if rnd is not None and rnd.round_id >= after_round and rnd != last:
            last = rnd
            found = announcement(launcher, rnd)
            assert found is not None
            yield found
        generation = launcher.wait_for_change(generation, heartbeat_s)
