"""How late the launcher's event loop runs, sampled while it serves (the round feed's
``announced`` events carry it per round state: :mod:`launch.round_feed`).

:class:`LoopLag` sleeps :data:`TICK_S` at a time on the loop and keeps how much later than
asked each sleep ended: the time a callback that became ready waited for the loop (every
watcher's write, every call's set-up, every reply is such a callback). Twenty wake-ups a
second, nothing else: the cost is negligible next to a thousand watchers.
"""

from __future__ import annotations

import asyncio
import time

TICK_S = 0.05


def _at(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class LoopLag:
    """The loop's lag samples since the last :meth:`take` (one task: :meth:`run`)."""

    def __init__(self, tick_s: float = TICK_S) -> None:
        self.tick_s = tick_s
        self._samples: list[float] = []

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            asked = time.monotonic()
            await asyncio.sleep(self.tick_s)
            self._samples.append(max(0.0, time.monotonic() - asked - self.tick_s))

    def take(self) -> dict[str, float | int]:
        """The samples since the last call, as ``count``, ``p50``, ``p95``, ``max``
        (seconds, rounded to the millisecond; zeros if none), and forget them."""
        found, self._samples = sorted(self._samples), []
        if not found:
            return {"count": 0, "p50": 0.0, "p95": 0.0, "max": 0.0}
        return {
            "count": len(found),
            "p50": round(_at(found, 0.5), 4),
            "p95": round(_at(found, 0.95), 4),
            "max": round(found[-1], 4),
        }
