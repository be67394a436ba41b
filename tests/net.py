"""Loopback ports for tests that start servers."""

from __future__ import annotations

from mpcrec.loopback import free_loopback_port


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago, drawn below the kernel's
    ephemeral range so no outgoing connection takes it meanwhile
    (:func:`mpcrec.loopback.free_loopback_port`)."""
    return free_loopback_port()
