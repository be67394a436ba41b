"""A round's end coalesced into the next round's opening (launch.round_feed, ``HOLD_S``):
a watcher that holds no seat of the round is not sent a ``published`` the next round's
``open`` replaces within the hold; the seats are, and so is everyone when the next round
does not open (the schedule paused or ended), and an aborted round is sent to all at once."""

from __future__ import annotations

import asyncio
import threading

from launch.round_feed import RoundFeed


class _Idle:
    stopping = threading.Event()


async def _read(feed: RoundFeed, name: str, got: dict[str, list[bytes]], until: bytes) -> None:
    async for message in feed.watch(after_round=1, active=lambda: True, watcher=name):
        got[name].append(message)
        if message == until:
            return


def _feed(hold_s: float) -> RoundFeed:
    feed = RoundFeed(_Idle(), render=lambda r: r, heartbeat_s=0.05)  # type: ignore[arg-type]
    feed.hold_s = hold_s
    return feed


def test_a_rounds_end_the_next_opening_replaces_reaches_only_its_seats() -> None:
    async def scenario() -> dict[str, list[bytes]]:
        feed = _feed(hold_s=30.0)  # far longer than the test: the open always comes first
        got: dict[str, list[bytes]] = {n: [] for n in ("m0", "x", "y")}
        readers = [asyncio.ensure_future(_read(feed, n, got, b"open 2")) for n in got]
        await asyncio.sleep(0.01)
        feed.publish(1, b"computing", "computing", first=frozenset({"m0"}))
        await asyncio.sleep(0.02)
        feed.publish(1, b"published", "published", first=frozenset({"m0"}))
        await asyncio.sleep(0.02)  # the scheduler opens the next round in the same step
        feed.publish(2, b"open 2", "open")
        async with asyncio.timeout(20):
            await asyncio.gather(*readers)
        feed.close()
        return got

    got = asyncio.run(scenario())

    assert got["m0"] == [b"computing", b"published", b"open 2"]  # its party stops at the end
    assert got["x"] == got["y"] == [b"computing", b"open 2"]  # one write fewer, same round


def test_a_rounds_end_not_replaced_reaches_every_watcher_after_the_hold() -> None:
    async def scenario() -> dict[str, list[bytes]]:
        feed = _feed(hold_s=0.05)
        got: dict[str, list[bytes]] = {n: [] for n in ("m0", "x", "y")}
        readers = [asyncio.ensure_future(_read(feed, n, got, b"published")) for n in got]
        await asyncio.sleep(0.01)
        feed.publish(1, b"published", "published", first=frozenset({"m0"}))  # the last round
        async with asyncio.timeout(20):
            await asyncio.gather(*readers)
        feed.close()
        return got

    got = asyncio.run(scenario())

    assert all(messages == [b"published"] for messages in got.values()), got


def test_an_aborted_round_is_sent_to_every_watcher_without_waiting() -> None:
    async def scenario() -> dict[str, list[bytes]]:
        feed = _feed(hold_s=60.0)  # were it held, the readers would time out first
        got: dict[str, list[bytes]] = {n: [] for n in ("m0", "x")}
        readers = [asyncio.ensure_future(_read(feed, n, got, b"aborted")) for n in got]
        await asyncio.sleep(0.01)
        feed.publish(1, b"aborted", "aborted", first=frozenset({"m0"}))
        async with asyncio.timeout(20):
            await asyncio.gather(*readers)
        feed.close()
        return got

    got = asyncio.run(scenario())

    assert got == {"m0": [b"aborted"], "x": [b"aborted"]}
