"""Why the launcher refused a call, in the same words on every path to it.

The launcher raises these, its gRPC service maps each to a status code and the gRPC client
maps the code back (:mod:`mpcrec.proto.convert`), so a node sees the same exception whether it
talks to the launcher over the wire or in process. What a node does with each (the table in
docs/operations.md, "What the node does with each answer"): :class:`StoreConflict` and
:class:`RoundStateError` count as "already done" or "too late" (every step is idempotent);
:class:`LauncherUnreachable` and the end of a watch reconnect with backoff
(:mod:`mpcrec.node.reconnect`); :class:`RegisterAgain` re-registers at once, once;
:class:`NotPermitted` re-registers with backoff; any other refusal (:class:`InvalidMessage`,
:class:`MalformedAnswer`) and any :class:`LauncherFault` (the launcher, or something between it
and the node, answered with an error of its own) is logged once per round and step, and the
node waits for the next announcement.
"""

from __future__ import annotations

from mpcrec.errors import ProtocolError


class LauncherError(ProtocolError):
    """The launcher refused a call, or could not be reached."""


class LauncherUnreachable(LauncherError):
    """No answer from the launcher (down, restarting, a broken connection, a timeout)."""


class NotPermitted(LauncherError):
    """The caller has no instance certificate, is not registered, or speaks for another."""


class Anonymous(NotPermitted):
    """The caller presented no instance certificate."""


class InvalidMessage(LauncherError):
    """The message is malformed, forged, or does not open what it claims to."""


class MalformedAnswer(InvalidMessage):
    """The launcher's answer could not be read (raised by the node's client, not sent)."""


class RegisterAgain(LauncherError):
    """The launcher's round parameters changed since the caller registered: register again
    (and take the step again under the new ones)."""


class RoundStateError(LauncherError):
    """A transition or a message that the round's current state does not allow."""


class StoreConflict(LauncherError):
    """The record exists already: a duplicate commitment, upload or result, or a replay."""


class LauncherFault(LauncherError):
    """An answer that is neither a refusal of the caller's message nor no answer at all: the
    launcher failed on the call, or something between it and the caller did (a proxy), or it
    does not know the call (an older launcher). Taking the step again at once would meet the
    same fault (:mod:`mpcrec.proto.faults`).

    Parameters
    ----------
    status:
        The gRPC status it came as (``INTERNAL``, ``RESOURCE_EXHAUSTED``, ...).
    kind:
        What it is, for the log: ``launcher error``, ``message over the size limit``, ...
    message, hint:
        The details the call failed with, and what it means and what to do about it.
    """

    def __init__(self, status: str, kind: str, message: str, *, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.kind = kind
