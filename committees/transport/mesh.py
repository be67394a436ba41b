"""The committee's mesh: one mutually authenticated TLS 1.3 link per ordered pair of ranks.

Every ordered pair of ranks ``(a, b)`` gets its own TLS connection, dialled by ``a`` to ``b``'s
listener and used in one direction only: ``a`` writes frames, ``b`` reads them. One
direction per connection means reads and writes never share a TLS object (OpenSSL does not
allow concurrent reads and writes on one ``SSL``). ``b`` reads on the thread that needs the
frame, straight into its destination (no reader thread, no queue: a thread per link that
needs the GIL for every 16 KB record starves while the party computes). ``a`` hands large
frames to a sending thread of the link
(:meth:`~committees.transport.links.OutgoingLink.post`), so two parties sending each other
large tensors at once both go on to read and never deadlock.

Set-up (:mod:`committees.transport.handshake`, :mod:`committees.transport.acceptor`): a TLS
1.3 handshake with both certificates checked against the committee's CA and the assignment,
then a hello naming the session and the dialler's rank, all links under one deadline.
Frames: :mod:`committees.transport.frames`; the two ends of a link:
:mod:`committees.transport.links`; errors: :mod:`committees.transport.errors`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from committees.transport.acceptor import Acceptor, listen
from committees.transport.frames import close_socket
from committees.transport.handshake import check_own_certificate, dial
from committees.transport.links import IncomingLink, OutgoingLink
from committees.transport.settings import TlsTransport


@dataclass
class Mesh:
    """All of a party's links: one outgoing and one incoming per other rank."""

    outgoing: dict[int, OutgoingLink]
    incoming: dict[int, IncomingLink]

    def close(self) -> None:
        """Close every link."""
        for link in self.outgoing.values():
            link.close()
        for incoming in self.incoming.values():
            incoming.close()


def connect_mesh(transport: TlsTransport) -> Mesh:
    """Connect this party to every other rank of ``transport``'s assignment.

    Returns
    -------
    Mesh
        Once every link is up and every peer authenticated.

    Raises
    ------
    ConfigError
        This party's own certificate does not name the instance its rank is assigned to.
    PeerRefused, PeerTimeout
        A peer presented the wrong certificate, refused ours, or never connected in time.
    """
    check_own_certificate(transport)
    deadline = time.monotonic() + transport.connect_timeout_s
    listener = listen(transport)
    acceptor = Acceptor(transport, listener, deadline)
    acceptor.start()
    outgoing: dict[int, OutgoingLink] = {}
    try:
        for peer in transport.peers:
            if peer.rank != transport.rank:
                outgoing[peer.rank] = dial(transport, peer, deadline)
        incoming = acceptor.result()
    except BaseException:
        acceptor.stop()
        for link in outgoing.values():
            link.close()
        raise
    finally:
        close_socket(listener)
    return Mesh(outgoing=outgoing, incoming=incoming)
