"""The launcher's beacon: which beacon round a round is bound to, and its value once due.

A round opening at ``t`` is bound to the first beacon round due strictly after
``t + commit_s + reveal_s`` (the latest its reveals may close: :meth:`Round.close_commits`
also ends the reveals when the beacon round is due). Its value is fetched only once due,
verified against the pinned chain (:mod:`mpcrec.federation.beacon_http`), and kept: the
draw waits for it, and aborts when it has not come ``reveal_s`` after it was due.
"""

from __future__ import annotations

from collections.abc import Callable

from launch.round import Round, RoundPolicy
from mpcrec.crypto.beacon import Beacon, ChainInfo, beacon_error
from mpcrec.federation.beacon_http import BeaconSource


class RoundBeacon:
    """A beacon source, bound to rounds, with the values already fetched (``source``
    ``None``: no beacon, rounds bind to none)."""

    def __init__(self, source: BeaconSource | None, clock: Callable[[], float]) -> None:
        self.source, self.clock = source, clock
        self._values: dict[int, Beacon] = {}

    @property
    def chain(self) -> ChainInfo | None:
        """The pinned chain (logged in the config entry)."""
        return self.source.chain if self.source is not None else None

    def bind(self, now: float, policy: RoundPolicy) -> tuple[int, float]:
        """``(beacon round, when it is due)`` for a round opening at ``now`` (``(0, 0)``
        without a beacon)."""
        if self.source is None:
            return 0, 0.0
        chain = self.source.chain
        number = chain.first_round_after(now + policy.commit_s + policy.reveal_s)
        return number, float(chain.time_of(number))

    def value(self, rnd: Round) -> Beacon | None:
        """The beacon bound to ``rnd`` once due and verified, else ``None``."""
        number = rnd.beacon_round
        if self.source is None or not number or self.clock() < rnd.beacon_at:
            return None
        if number not in self._values:
            found = self.source.fetch(number)
            if found is None or beacon_error(self.source.chain, found, round_number=number):
                return None
            self._values = {number: found}  # one round draws at a time
        return self._values[number]
