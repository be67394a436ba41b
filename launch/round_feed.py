"""One reader of the launcher's rounds, fanned out to every watching instance.

The asynchronous server (:mod:`launch.service`) keeps no thread per watcher. One
:class:`RoundFeed` waits for the launcher's changes (:meth:`~launch.launcher.Launcher.
wait_for_change`, in one thread of its own), renders the current round's announcement once
per change (serialised once: every watcher is sent the same bytes), and wakes every
watcher's coroutine. A watcher holds only the number of the last
announcement it was sent: there is no queue per watcher, so one that reads slowly skips to the
newest announcement instead of holding a backlog (an announcement replaces the ones before
it; nodes act on the round's latest state). Memory is one rendered announcement for all
watchers, plus what gRPC's flow-control window holds per stream.

The round's seats (its committee's members and its dealer) are written to first: the other
watchers' coroutines, woken in the same pass of the event loop, step aside for one pass
(:meth:`RoundFeed.watch`), so a member's write starts before a thousand others. Everyone
is sent the same bytes; only the order of the writes changes. A round waits for its
members (``computing``), not for the write of that state to the other contributors.

A round's end is coalesced into the next round's opening for everyone but its seats: a
watcher that holds no seat waits :data:`HOLD_S` before it is sent ``published``, and is sent
only the next round's ``open`` if that round opens meanwhile (it does, in the same step of
the scheduler, unless the schedule pauses or ends). A thousand writes a round fewer at the
moment a thousand commitments arrive; and a node, which follows the newest model after its
step (``Node._follow_model``), fetches the model the ``open`` names after sending its
commitment, not ahead of it (docs/benchmarks/federation.md, session 8). The seats still see
``published`` at once (a member's committee party stops then). A node already tolerates a
skipped state (a slow reader skips to the newest): the log check of a round runs at the
first announcement after its end, and the catalogue export at its ``computing``. Aborted
rounds are announced to all at once (the next round opens after ``retry_s``, and an abort
releases a contributor's model version).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from launch.launcher import Launcher
from launch.round import Round
from launch.schedule import SETTLE_S
from launch.watch_lag import LoopLag
from mpcrec.federation.announcement import Phase

log = logging.getLogger("mpcrec.launcher")

#: How long a watcher that holds no seat of a round waits before it is sent the round's
#: ``published``: the next round opens in the same step of the scheduler (5-50 ms later),
#: and that opening replaces it (module docstring).
HOLD_S = 0.25


class Delivery:
    """When one announcement was published, and when each watcher's write of it ended."""

    def __init__(self, round_id: int, state: str) -> None:
        self.round_id, self.state, self.at = round_id, state, time.time()
        self.writes: list[float] = []
        self.handled: dict[str, list[float]] = {}  # per call, when its handler began
        self.loop_lag: dict[str, float | int] = {}  # while this was the latest

    def event(self) -> dict[str, Any]:
        """The launcher event ``announced``: each write's end, seconds after publishing
        (writes ending after the next announcement was published are not counted)."""
        return {
            "event": "announced",
            "time": self.at,
            "round_id": self.round_id,
            "state": self.state,
            "writes_s": [round(t - self.at, 4) for t in self.writes],
            "handled_s": {
                rpc: [round(t - self.at, 4) for t in times] for rpc, times in self.handled.items()
            },
            "loop_lag_s": self.loop_lag,
        }


def seats(rnd: Round) -> frozenset[str]:
    """The instances ``rnd``'s announcements are written to first: its committee's members
    and its dealer (none before the draw)."""
    return frozenset((*rnd.committee, rnd.dealer) if rnd.dealer else rnd.committee)


class RoundFeed:
    """The latest announcement, and the watchers waiting for the next one.

    Parameters
    ----------
    launcher:
        Whose rounds to announce.
    render:
        A round to the message sent to watchers (the gRPC service: the announcement,
        serialised); called in a worker thread, once per change of the round.
    heartbeat_s:
        How often the reader checks that the launcher runs.
    idle_s:
        How often an idle watcher checks that its call is still active (default:
        ``heartbeat_s``). A call its client ends is cancelled by gRPC anyway, and closing
        the feed wakes every watcher: this is a backstop, kept long so that a thousand
        idle watchers are not a thousand timeouts a second.
    on_delivered:
        Called with each announcement's :meth:`Delivery.event` once the next is published
        (the launcher's events: where a round's time goes, ``mpcrec bench federation``).
    """

    def __init__(
        self,
        launcher: Launcher,
        render: Callable[[Round], Any],
        *,
        heartbeat_s: float,
        idle_s: float | None = None,
        on_delivered: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.launcher = launcher
        self.render = render
        self.heartbeat_s = heartbeat_s
        self.idle_s = heartbeat_s if idle_s is None else idle_s
        self.on_delivered = on_delivered
        self._delivery: Delivery | None = None
        self.number = 0  # of the latest announcement; 0: none yet
        self.latest: tuple[int, Any] | None = None  # (round id, message)
        self.first: frozenset[str] = frozenset()  # whom the latest is written to first
        self.held = False  # whether the latest is a round's end the others wait for
        self.hold_s = HOLD_S
        self._next = asyncio.Event()
        self._closed = False
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="round-feed")
        self.lag = LoopLag()

    @property
    def running(self) -> bool:
        """Whether watchers are still served (neither closed nor the launcher stopping)."""
        return not self._closed and not self.launcher.stopping.is_set()

    def publish(
        self, round_id: int, message: Any, state: str = "", first: frozenset[str] = frozenset()
    ) -> None:
        """Make ``message`` the latest announcement and wake every watcher (loop thread);
        the watchers named in ``first`` (the round's seats) are written to before the others."""
        self._delivered()
        self._delivery = Delivery(round_id, state)
        self.number += 1
        self.latest, self.first = (round_id, message), first
        self.held = state == Phase.PUBLISHED.value and bool(first)
        woken, self._next = self._next, asyncio.Event()
        woken.set()

    def handled(self, rpc: str) -> None:
        """Note that a handler of ``rpc`` begins now (any thread; a list append)."""
        delivery = self._delivery
        if delivery is not None:
            delivery.handled.setdefault(rpc, []).append(time.time())

    def _delivered(self) -> None:
        if self._delivery is not None:
            self._delivery.loop_lag = self.lag.take()
        if self._delivery is not None and self.on_delivered is not None:
            with contextlib.suppress(Exception):  # a view's failure must not stop the feed
                self.on_delivered(self._delivery.event())
        self._delivery = None

    def close(self) -> None:
        """Stop reading and let every watcher end (loop thread)."""
        self._delivered()
        self._closed = True
        self._next.set()
        self._reader.shutdown(wait=False)

    async def run(self) -> None:
        """Announce every change of the current round until closed (one task)."""
        loop = asyncio.get_running_loop()
        sampling = asyncio.create_task(self.lag.run())
        try:
            await self._announce(loop)
        finally:
            sampling.cancel()

    async def _announce(self, loop: asyncio.AbstractEventLoop) -> None:
        generation, last = -1, None
        while self.running:
            try:
                rnd = await loop.run_in_executor(self._reader, self.launcher.current)
                if rnd is not None and rnd != last:
                    message = await loop.run_in_executor(self._reader, self.render, rnd)
                    last = rnd
                    self.publish(rnd.round_id, message, rnd.phase.value, seats(rnd))
                await asyncio.sleep(SETTLE_S)  # a burst of changes is read once
                generation = await loop.run_in_executor(
                    self._reader, self.launcher.wait_for_change, generation, self.heartbeat_s
                )
            except RuntimeError:  # the reader was shut down under us: closing
                return
            except Exception:  # a store error must not end every watch: retry
                log.exception("announcing the current round failed; retrying")
                await asyncio.sleep(self.heartbeat_s)

    async def _replaced(self, number: int) -> bool:
        """Whether announcement ``number`` is replaced within :attr:`hold_s` (a watcher
        that holds no seat waits that long before it is sent a round's end)."""
        woken = self._next
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.hold_s):
                await woken.wait()
        return self.number > number

    async def watch(
        self, after_round: int, active: Callable[[], bool], watcher: str = ""
    ) -> AsyncIterator[Any]:
        """The latest announcement, then each newer one, of rounds from ``after_round`` on,
        while ``active()`` and the feed runs; ``watcher`` (its instance id) is written to
        first when it holds a seat of the announced round."""
        sent = 0
        while self.running and active():
            if self.number > sent and self.latest is not None:
                if self.first and watcher not in self.first:
                    await asyncio.sleep(0)  # one pass of the loop: the seats' writes start first
                    if self.held and await self._replaced(self.number):
                        continue  # the round's end, replaced by the next round's opening
                sent, delivery = self.number, self._delivery
                round_id, message = self.latest
                if round_id >= after_round:
                    yield message  # resumed once the caller's write of it has ended
                    if delivery is not None:
                        delivery.writes.append(time.time())
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.idle_s):  # no task per wait
                    await self._next.wait()
