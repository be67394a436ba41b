"""Why the launcher refused a call, in the same words on every path to it.

The launcher raises these, its gRPC service maps each to a status code and the gRPC client
maps the code back (:mod:`mpcrec.proto.convert`), so a node sees the same exception whether it
talks to the launcher over the wire or in process. What a node does with each (the table in
docs/operations.md, "What the node does with each answer"): :class:`StoreConflict` and
:class:`RoundStateError` count as "already done" or "too late" (every step is idempotent);
:class:`LauncherUnreachable` and the end of a watch reconnect with backoff
(:mod:`mpcrec.node.reconnect`); :class:`RegisterAgain` re-registers at once, once;
:class:`NotPermitted` re-registers with backoff; any other refusal (:class:`InvalidMessage`,
:class:`MalformedAnswer`) is logged once per round and step, and the node waits for the next
announcement.
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
