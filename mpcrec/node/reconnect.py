"""The node's link to the launcher: what it does with each answer, and quiet about it.

When the launcher goes away (restarting, upgraded, its host down, or its disk full: calls
answered ``UNAVAILABLE``) the node keeps serving the last model it followed (the HTTP API
answers from it: nothing in the node depends on the launcher to serve) and registers again
after 0.2 s, 0.4 s, ... up to :data:`CAP_S` (30 s), each wait drawn in its upper fifth so
that many nodes do not retry in step. The log says so **once per change of state**: one
warning when the launcher becomes unreachable (with what the node still serves), one line
when the node follows its rounds again (an announcement handled: a registration the next
call fails does not end the outage); the attempts in between are debug lines only.

A launcher that *answers* is never called unreachable (docs/operations.md, "What the node
does with each answer"):

* a step it refuses (``INVALID_ARGUMENT``: the upload's envelopes are not the round's, say)
  or answers malformed (:class:`~mpcrec.federation.refusals.MalformedAnswer`) is not taken
  again that round: one WARNING with the launcher's reason per round and step
  (:meth:`LauncherLink.step_refused`), and the node waits for the next announcement on the
  same watch;
* "register again" (:class:`~mpcrec.federation.refusals.RegisterAgain`, ``ABORTED``: its
  round parameters changed) re-registers at once, once; asked again before an announcement
  was handled, it backs off like a refusal;
* a refused registration or watch, or a step refused as not permitted (``PERMISSION_DENIED``
  or ``UNAUTHENTICATED``: re-registering is the node's only way on), re-registers with the
  same capped backoff, its own, one WARNING per reason (:meth:`LauncherLink.ended`);
* a fault (:class:`~mpcrec.federation.refusals.LauncherFault`: ``UNKNOWN``, ``INTERNAL``,
  ``DATA_LOSS``, ``RESOURCE_EXHAUSTED``, ``UNIMPLEMENTED``, ``NOT_FOUND``, ``OUT_OF_RANGE``;
  :mod:`mpcrec.proto.faults`) is neither: the launcher answered, but the same message sent
  again at once meets the same fault. A step's is logged like a refused step (one WARNING
  per round and step, naming what it is, the details and what to do) and the step waits for
  the next round; a registration's or a watch's backs off like a refused registration.
"""

from __future__ import annotations

import logging
import random
import time

from mpcrec.federation.refusals import (
    LauncherError,
    LauncherFault,
    LauncherUnreachable,
    MalformedAnswer,
    NotPermitted,
    RegisterAgain,
)
from mpcrec.node.round_memory import REMEMBERED_ROUNDS
from mpcrec.proto.convert import status_code

log = logging.getLogger(__name__)

FIRST_S = 0.2
CAP_S = 30.0
#: The answers to a step after which the node registers again and takes the step again
#: (any other refusal of a step: logged, and the step not taken again that round).
REGISTER_FIRST = (LauncherUnreachable, RegisterAgain, NotPermitted)


def _refused(doing: str, err: LauncherError) -> str:
    """``the launcher refused its upload (INVALID_ARGUMENT): ...`` (the status it came as),
    ``the launcher's answer to its upload is malformed: ...``, or a fault's
    ``launcher error on its upload (INTERNAL: <details>): <what it means>``."""
    if isinstance(err, MalformedAnswer):
        return f"the launcher's answer to {doing} is malformed: {err.message}"
    if isinstance(err, LauncherFault):
        return f"{err.kind} on {doing} ({err.status}: {err.message}): {err.hint}"
    return f"the launcher refused {doing} ({status_code(err).name}): {err.message}"


class Backoff:
    """Waits of ``first``, twice that, ... up to ``cap`` seconds, each drawn in its upper
    fifth (so that many nodes do not retry in step)."""

    def __init__(self, first: float, cap: float, rng: random.Random) -> None:
        self.first, self.cap, self._rng = first, cap, rng
        self.nominal = first

    def wait(self) -> float:
        """The next wait, in seconds (the one after it doubles, up to the cap)."""
        nominal, self.nominal = self.nominal, min(self.nominal * 2, self.cap)
        return nominal * self._rng.uniform(0.8, 1.0)

    def reset(self) -> None:
        """Start again from ``first``."""
        self.nominal = self.first


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
        self._rng = random.Random()
        self.unreachable = Backoff(first, cap, self._rng)
        self.refused = Backoff(first, cap, self._rng)  # registering again after a refusal
        self.reachable: bool | None = None  # None: never connected yet
        self.failures = 0  # consecutive, since the launcher was last reachable
        self._down_since = 0.0
        self._asked_again = False  # "register again" since the last announcement handled
        self._said = ""  # the last refusal of a registration, a watch or a step, logged
        self._told: set[tuple[int, str]] = set()  # (round, step) refusals logged

    def connected(self) -> None:
        """An announcement was handled: say so if the launcher was away, reset the backoff."""
        if self.reachable is False:
            log.info(
                "%s: launcher reachable again after %d attempts in %.0f s; rejoined",
                self.me,
                self.failures,
                time.monotonic() - self._down_since,
            )
        self.reachable = True
        self.failures = 0
        self.unreachable.reset()
        self.refused.reset()
        self._asked_again, self._said = False, ""

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
        return self.unreachable.wait()

    def ended(self, err: LauncherError | None, doing: str, serving: str) -> float:
        """The connection ended with ``err`` (``None``: the launcher ended the watch) while
        the node was on ``doing`` (``its registration``, ``its upload of round 7``): the
        seconds to wait before registering again."""
        if err is None:
            return self.failed("the launcher ended the watch", serving)
        if isinstance(err, LauncherUnreachable):
            return self.failed(err.message, serving)
        if isinstance(err, RegisterAgain) and not self._asked_again:
            self._asked_again = True
            log.info(
                "%s: the launcher asks this node to register again (%s: %s); registering again",
                self.me,
                doing,
                err.message,
            )
            return 0.0
        delay = self.refused.wait()
        said = _refused(doing, err)
        log.log(
            logging.DEBUG if said == self._said else logging.WARNING,
            "%s: %s; registering again in %.1f s, backing off up to %g s",
            self.me,
            said,
            delay,
            self.cap,
        )
        self._said = said
        return delay

    def step_refused(self, round_id: int, step: str, err: LauncherError) -> None:
        """The launcher refused this node's ``step`` of round ``round_id`` (or its answer
        was malformed, or it failed on it): a WARNING the first time for that round and
        step, DEBUG after."""
        told = (round_id, step) in self._told
        self._told = {t for t in self._told if t[0] > round_id - REMEMBERED_ROUNDS}
        self._told.add((round_id, step))
        log.log(
            logging.DEBUG if told else logging.WARNING,
            "%s: round %d: %s; not taken again this round",
            self.me,
            round_id,
            _refused(f"its {step}", err),
        )
