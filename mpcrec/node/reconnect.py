"""The node's link to the launcher: capped exponential backoff, and quiet about it.

When the launcher goes away (restarting, upgraded, its host down) the node keeps serving
the last model it followed (the HTTP API answers from it: nothing in the node depends on
the launcher to serve) and tries again after 0.2 s, 0.4 s, ... up to :data:`CAP_S`
(30 s), each wait drawn in its upper fifth so that many nodes do not retry in step. The log
says so **once per change of state**: one warning when the launcher becomes unreachable
(with what the node still serves), one line when it is back; the attempts in between are
debug lines only.
"""

from __future__ import annotations

import logging
import random
import time

log = logging.getLogger(__name__)

FIRST_S = 0.2
CAP_S = 30.0


class LauncherLink:
    """The state of the node's connection to the launcher (module docstring).

    Parameters
    ----------
    me:
        The instance id, for the log.
    first, cap:
        The first wait after a failure and the longest one, in seconds.
    """

    def __init__(self, me: str, *, first: float = FIRST_S, cap: float = CAP_S) -> None:
        if not 0 < first <= cap:
            raise ValueError(f"backoff first={first} must be in (0, cap={cap}]")
        self.me = me
        self.first = first
        self.cap = cap
        self.next_delay = first
        self.reachable: bool | None = None  # None: never connected yet
        self.failures = 0  # consecutive, since the launcher was last reachable
        self._down_since = 0.0
        self._rng = random.Random()

    def connected(self) -> None:
        """The node registered: say so if the launcher was away, and reset the backoff."""
        if self.reachable is False:
            log.info(
                "%s: launcher reachable again after %d attempts in %.0f s; rejoined",
                self.me,
                self.failures,
                time.monotonic() - self._down_since,
            )
        self.reachable = True
        self.failures = 0
        self.next_delay = self.first

    def failed(self, reason: str, serving: str) -> float:
        """A connection failed or ended: the seconds to wait before the next attempt.

        ``serving`` says what the node keeps serving meanwhile (for the one warning).
        """
        self.failures += 1
        if self.reachable is not False:
            self._down_since = time.monotonic()
            log.warning(
                "%s: launcher unreachable (%s); still serving %s; retrying with backoff up "
                "to %g s, quietly until it is back",
                self.me,
                reason,
                serving,
                self.cap,
            )
        else:
            log.debug(
                "%s: launcher still unreachable (attempt %d): %s", self.me, self.failures, reason
            )
        self.reachable = False
        delay = self.next_delay * self._rng.uniform(0.8, 1.0)
        self.next_delay = min(self.next_delay * 2, self.cap)
        return delay
