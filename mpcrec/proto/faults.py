"""The gRPC statuses a node can get that are neither a refusal of its message nor "no
answer": what each is, what it means and what the operator does about it (docs/operations.md,
"What the node does with each answer").

mpcrec's launcher sends only the statuses of :mod:`mpcrec.proto.convert`'s refusals
(``INVALID_ARGUMENT``, ``ALREADY_EXISTS``, ``FAILED_PRECONDITION``, ``PERMISSION_DENIED``,
``UNAUTHENTICATED``, ``ABORTED``, ``UNAVAILABLE``). No answer at all is
:data:`UNREACHABLE`: the launcher down or restarting, a broken connection, the node's call
deadline. Every other status is a :class:`~mpcrec.federation.refusals.LauncherFault`:

* ``UNKNOWN``: an exception in the launcher's service (gRPC's answer to a bug: the
  launcher's log has the traceback) or an HTTP error from a proxy in between;
* ``INTERNAL``, ``DATA_LOSS``: gRPC failed inside the launcher or a proxy in between (a
  reset stream, a frame it could not parse, corrupted bytes);
* ``RESOURCE_EXHAUSTED``: a message over gRPC's size limit on either side (gRPC says
  "larger than max": :data:`~mpcrec.federation.tls.MAX_MESSAGE` on both ends, or a
  proxy's lower limit), else the launcher short of a resource (its memory, a concurrency
  limit): overloaded;
* ``UNIMPLEMENTED``: a launcher older than the node (it has no such call), or a proxy that
  routes the call to something else;
* ``NOT_FOUND``, ``OUT_OF_RANGE`` and any status gRPC may add: not an answer mpcrec's
  launcher gives: something else answers at the launcher's address.

None of them goes away by sending the same message again at once, so the node does not
re-register for them (:mod:`mpcrec.node.reconnect`).
"""

from __future__ import annotations

import grpc

from mpcrec.federation.refusals import LauncherFault
from mpcrec.federation.tls import MAX_MESSAGE

#: No answer: the launcher is unreachable (register again with backoff, take the step again).
UNREACHABLE = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
)
_ERROR = "launcher error"
_BUG = "an exception in the launcher's service (a bug: its log at this time has the traceback)"
_BETWEEN = "or a proxy between it and this node answering with an error"
_GRPC = "gRPC failed inside the launcher or a proxy between (a reset stream, a bad frame)"
_ELSEWHERE = "not an answer mpcrec's launcher gives: check what answers at its address"
_MEANING: dict[grpc.StatusCode, tuple[str, str]] = {
    grpc.StatusCode.UNKNOWN: (_ERROR, f"{_BUG}, {_BETWEEN}"),
    grpc.StatusCode.INTERNAL: (_ERROR, _GRPC),
    grpc.StatusCode.DATA_LOSS: (_ERROR, _GRPC),
    grpc.StatusCode.UNIMPLEMENTED: (
        "call unknown to the launcher",
        "a launcher older than this node: upgrade it (or a proxy routing elsewhere)",
    ),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (
        "launcher overloaded",
        "the launcher short of memory or at a concurrency limit: it is not down",
    ),
}
_TOO_LARGE = (
    "message over the size limit",
    f"gRPC takes messages of up to {MAX_MESSAGE >> 20} MB on both ends (mpcrec.federation.tls."
    "MAX_MESSAGE, not a setting): models and uploads travel in 1 MB chunks, a member's result "
    "in one message of n_items x dim x 8 bytes; a proxy in between may hold a lower limit",
)


def launcher_fault(code: grpc.StatusCode, details: str) -> LauncherFault:
    """The fault a status outside the launcher's refusals and :data:`UNREACHABLE` stands for."""
    kind, meaning = _MEANING.get(code, ("answer not from mpcrec's launcher", _ELSEWHERE))
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than" in details:
        kind, meaning = _TOO_LARGE
    return LauncherFault(code.name, kind, details, hint=meaning)
