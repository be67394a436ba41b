"""The launcher's listening socket: a port it cannot have is the operator's error, said clearly."""

from __future__ import annotations

from typing import Any

import grpc

from mpcrec.errors import UserError


def listen_on(server: Any, address: str, credentials: grpc.ServerCredentials) -> None:
    """Add ``address`` to ``server``; a port in use or an address not on this host is a
    clear :class:`~mpcrec.errors.UserError` (grpc reports it as ``0`` or, in newer releases,
    as a bare ``RuntimeError``)."""
    try:
        bound = server.add_secure_port(address, credentials)
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise UserError(
            f"cannot listen on {address}: the port is in use or the address is not this host's",
            hint="choose another port for `listen` in federation.yaml, or stop what holds it "
            "(`ss -ltnp` shows it)",
        )
