"""How late the launcher's event loop runs (launch.watch_lag), as the round feed reports it."""

from __future__ import annotations

import asyncio
import time

from launch.watch_lag import LoopLag


def test_a_callback_that_holds_the_loop_shows_as_lag_and_samples_are_taken_once() -> None:
    lag = LoopLag(tick_s=0.01)

    async def scenario() -> tuple[dict[str, float | int], dict[str, float | int]]:
        sampling = asyncio.create_task(lag.run())
        await asyncio.sleep(0.03)
        time.sleep(0.2)  # a callback that holds the loop (a thousand writes, say)
        await asyncio.sleep(0.03)
        first = lag.take()
        second = lag.take()  # nothing sampled since
        sampling.cancel()
        return first, second

    first, second = asyncio.run(scenario())

    assert int(first["count"]) >= 2
    assert float(first["max"]) >= 0.15  # the sleep asked for 0.01 s ended >= 0.19 s late
    assert second == {"count": 0, "p50": 0.0, "p95": 0.0, "max": 0.0}
