"""Many instances watching rounds at once, on the asynchronous server (issue 15).

The server holds no thread per watcher: 200 watching calls over 200 connections are all
answered, and each sees the round move, while the process's thread count stays near the
worker pool's size (the server before issue 15 gave every watcher one of 64 threads, so the
65th waited forever). A slow watcher skips to the newest announcement rather than queueing.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

import grpc
import pytest

from launch.round_feed import RoundFeed
from mpcrec.federation.tls import GRPC_OPTIONS, channel_credentials
from mpcrec.proto import federation_pb2 as pb
from mpcrec.proto import federation_pb2_grpc as pb_grpc
from tests.launch.test_service import T, _wait_state, world  # noqa: F401 (a fixture)

WATCHERS = 200


async def _watch_until(address: str, tls: Any, states: set[str], got: list[str]) -> list[str]:
    """One watcher on its own connection: the states it saw, up to any of ``states``."""
    channel = grpc.aio.secure_channel(address, channel_credentials(tls), options=GRPC_OPTIONS)
    seen: list[str] = []
    try:
        call = pb_grpc.LauncherStub(channel).WatchRounds(pb.WatchRequest(after_round=1))
        async for ann in call:
            seen.append(ann.state)
            if len(seen) == 1:
                got.append(ann.state)
            if ann.state in states:
                break
        call.cancel()
    finally:
        await channel.close()
    return seen


async def _crowd(world: dict[str, Any], threads: list[int]) -> list[list[str]]:  # noqa: F811
    clients = world["clients"]
    got: list[str] = []
    tasks = [
        asyncio.create_task(_watch_until(world["address"], clients[n].tls, {"revealing"}, got))
        for n in [*clients] * (WATCHERS // len(clients) + 1)
    ][:WATCHERS]
    async with asyncio.timeout(3 * T):
        while len(got) < WATCHERS:  # every watcher has its first announcement
            await asyncio.sleep(0.05)
    threads.append(threading.active_count())
    secrets = {n: os.urandom(32) for n in clients}
    ann = await asyncio.to_thread(_wait_state, clients["a"], "open")
    for n, c in clients.items():
        await asyncio.to_thread(c.commit, ann.round_id, secrets[n])
    async with asyncio.timeout(3 * T):
        return await asyncio.gather(*tasks)


def test_two_hundred_watchers_served_with_a_bounded_number_of_threads(
    world: dict[str, Any],  # noqa: F811
) -> None:
    for c in world["clients"].values():
        c.register()
    _wait_state(world["clients"]["a"], "open")
    before = threading.active_count()
    threads: list[int] = []
    seen = asyncio.run(_crowd(world, threads))
    assert len(seen) == WATCHERS
    assert all(s[0] == "open" and s[-1] == "revealing" for s in seen), seen[:3]
    # the worker pool (16) and gRPC's own threads, not one per watcher
    assert threads[0] - before < 40, (before, threads)


def test_slow_watcher_gets_the_newest_announcement_not_a_backlog() -> None:
    class Idle:
        stopping = threading.Event()

    async def scenario() -> list[Any]:
        feed = RoundFeed(Idle(), render=lambda r: r, heartbeat_s=0.05)  # type: ignore[arg-type]
        watcher = feed.watch(after_round=2, active=lambda: True)
        feed.publish(1, "round 1")  # before the rounds it asked for: skipped
        feed.publish(2, "round 2, open")
        first = await anext(watcher)
        for state in ("committing", "revealing", "collecting"):  # it does not read meanwhile
            feed.publish(2, f"round 2, {state}")
        second = await anext(watcher)
        pending = asyncio.ensure_future(anext(watcher))
        await asyncio.sleep(0.2)  # nothing new: it waits
        assert not pending.done()
        feed.publish(3, "round 3, open")
        third = await pending
        feed.close()
        with pytest.raises(StopAsyncIteration):
            await anext(watcher)
        return [first, second, third]

    assert asyncio.run(scenario()) == ["round 2, open", "round 2, collecting", "round 3, open"]


def test_watchers_get_the_bytes_rendered_once_the_same_announcement_as_get_round(
    world: dict[str, Any],  # noqa: F811
) -> None:
    # Prepare: a round open (and waiting for commitments)
    clients = world["clients"]
    for c in clients.values():
        c.register()
    opened = _wait_state(clients["a"], "open")

    # Execute: two instances watch (the feed's pre-serialised bytes, parsed by the client)
    watched = []
    for name in ("a", "b"):
        call = clients[name].stub.WatchRounds(pb.WatchRequest(after_round=1), timeout=T)
        watched.append(next(iter(call)))
        call.cancel()

    # Assert: what GetRound serialises per call, field for field
    assert watched == [opened, opened]
    assert opened.state == "open" and len(opened.participants) == len(clients)


def test_each_announcement_reports_when_its_writes_to_the_watchers_ended() -> None:
    class Idle:
        stopping = threading.Event()

    async def scenario() -> list[dict[str, Any]]:
        delivered: list[dict[str, Any]] = []
        feed = RoundFeed(
            Idle(),  # type: ignore[arg-type]
            render=lambda r: r,
            heartbeat_s=0.05,
            on_delivered=delivered.append,
        )
        watchers = [feed.watch(after_round=1, active=lambda: True) for _ in range(3)]
        feed.publish(1, b"open", "open")
        for watcher in watchers:  # each takes it (its write ends when it asks for the next)
            assert await anext(watcher) == b"open"
        pending = [asyncio.ensure_future(anext(w)) for w in watchers[:2]]
        await asyncio.sleep(0.05)
        feed.publish(1, b"revealing", "revealing")  # the open one is reported now
        await asyncio.gather(*pending)
        feed.close()  # and the last one when the feed closes
        return delivered

    delivered = asyncio.run(scenario())
    assert [(e["event"], e["round_id"], e["state"]) for e in delivered] == [
        ("announced", 1, "open"),
        ("announced", 1, "revealing"),
    ]
    assert len(delivered[0]["writes_s"]) == 2  # the third watcher never asked for more
    assert all(0 <= t < 5 for t in delivered[0]["writes_s"])


class _Idle:
    stopping = threading.Event()


def test_the_rounds_seats_are_written_to_before_the_other_watchers() -> None:
    async def scenario() -> list[str]:
        feed = RoundFeed(_Idle(), render=lambda r: r, heartbeat_s=0.05)  # type: ignore[arg-type]
        names = ["c0", "c1", "c2", "member", "c3", "dealer"]  # the order they began watching
        watchers = {n: feed.watch(after_round=1, active=lambda: True, watcher=n) for n in names}
        feed.publish(1, b"open", "open")
        for watcher in watchers.values():
            assert await anext(watcher) == b"open"
        order: list[str] = []

        async def take(name: str) -> None:
            assert await anext(watchers[name]) == b"computing"
            order.append(name)  # where its write would start

        tasks = [asyncio.ensure_future(take(n)) for n in names]
        await asyncio.sleep(0.05)  # every watcher waits for the next announcement
        feed.publish(1, b"computing", "computing", first=frozenset({"member", "dealer"}))
        await asyncio.gather(*tasks)
        feed.close()
        return order

    order = asyncio.run(scenario())
    assert set(order[:2]) == {"member", "dealer"}, order
    assert sorted(order[2:]) == ["c0", "c1", "c2", "c3"]


def test_every_watcher_that_reads_promptly_gets_every_announcement_seat_or_not() -> None:
    states = ["open", "revealing", "collecting", "computing", "published"]

    async def scenario() -> dict[str, list[bytes]]:
        feed = RoundFeed(_Idle(), render=lambda r: r, heartbeat_s=0.05)  # type: ignore[arg-type]
        got: dict[str, list[bytes]] = {n: [] for n in ("m0", "x", "y")}

        async def read(name: str) -> None:
            async for message in feed.watch(after_round=1, active=lambda: True, watcher=name):
                got[name].append(message)

        readers = [asyncio.ensure_future(read(n)) for n in got]
        await asyncio.sleep(0.01)
        for state in states:
            seats = frozenset({"m0"}) if state in ("collecting", "computing") else frozenset()
            feed.publish(1, state.encode(), state, first=seats)
            await asyncio.sleep(0.02)  # the watchers read it before the next
        feed.close()
        await asyncio.gather(*readers)
        return got

    got = asyncio.run(scenario())
    assert all(messages == [s.encode() for s in states] for messages in got.values()), got
