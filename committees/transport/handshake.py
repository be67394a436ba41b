"""Setting up one link: TLS 1.3 contexts, identity checks, and the dialler's hello.

1. TLS 1.3 handshake; both sides present their instance certificate, both verify the chain
   to the committee's CA (expired or foreign certificates fail here);
2. the dialler checks that the listener's certificate names the instance the assignment
   gives for that rank (and its pinned fingerprint, if any);
3. the dialler sends ``hello = {session, rank}``; the listener
   (:class:`committees.transport.acceptor.Acceptor`) checks it and answers ``ok`` or the
   reason it refuses.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from typing import Final

from committees.transport.errors import PeerRefused, PeerTimeout, peer_name
from committees.transport.frames import HEADER, KIND_OBJECT, close_socket, read_exactly
from committees.transport.links import OutgoingLink
from committees.transport.settings import PeerAddress, TlsTransport
from mpcrec.crypto.pki import fingerprint, instance_id_of, instance_id_of_der
from mpcrec.errors import ConfigError

#: The largest hello or answer read before the link is up.
MAX_HELLO: Final = 4096


def server_context(transport: TlsTransport) -> ssl.SSLContext:
    """TLS 1.3 context for accepting peers: client certificate required, our CA only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _configure(ctx, transport)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.num_tickets = 0  # no session tickets: the listener never writes after set-up
    return ctx


def client_context(transport: TlsTransport) -> ssl.SSLContext:
    """TLS 1.3 context for dialling peers; identity is checked against the assignment."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _configure(ctx, transport)
    ctx.check_hostname = False  # peers are pinned by instance id (and fingerprint) instead
    return ctx


def _configure(ctx: ssl.SSLContext, transport: TlsTransport) -> None:
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        ctx.load_cert_chain(transport.certs.cert, transport.certs.key)
        ctx.load_verify_locations(transport.certs.ca)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError(
            f"cannot load TLS certificate {transport.certs.cert}, key {transport.certs.key} "
            f"or CA {transport.certs.ca}: {err}",
            hint="create them with `mpcrec pki` or point the config at your own files",
        ) from err


def check_own_certificate(transport: TlsTransport) -> None:
    """ConfigError unless this party's certificate names the instance its rank is assigned."""
    try:
        pem = transport.certs.cert.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read certificate {transport.certs.cert}: {err}") from err
    own = instance_id_of(pem)
    if own != transport.me.instance_id:
        raise ConfigError(
            f"certificate {transport.certs.cert} names instance {own!r}, but rank "
            f"{transport.rank} is assigned to {transport.me.instance_id!r}",
            hint="start the party with the certificate the instance registered with",
        )


def dial(transport: TlsTransport, peer: PeerAddress, deadline: float) -> OutgoingLink:
    """Connect to ``peer``, authenticate it, introduce ourselves; retry until the deadline."""
    ctx = client_context(transport)
    last: str = "no attempt"
    while time.monotonic() < deadline:
        try:
            raw = socket.create_connection(
                (peer.host, peer.port), timeout=max(0.1, min(2.0, deadline - time.monotonic()))
            )
        except OSError as err:  # not listening yet: retry
            last = str(err)
            time.sleep(0.05)
            continue
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            sock = ctx.wrap_socket(raw)
        except ssl.SSLError as err:
            close_socket(raw)
            raise PeerRefused(f"TLS handshake with {peer_name(peer)} failed: {err}") from err
        except OSError as err:
            close_socket(raw)
            last = str(err)
            continue
        try:
            _check_peer(sock, peer)
            _send_hello(sock, transport, peer)
        except BaseException:
            close_socket(sock)
            raise
        sock.settimeout(transport.recv_timeout_s)
        return OutgoingLink(peer, sock)
    raise PeerTimeout(
        f"{peer_name(peer)} at {peer.host}:{peer.port} did not accept a connection within "
        f"{transport.connect_timeout_s:g} s (last error: {last})"
    )


def _send_hello(sock: ssl.SSLSocket, transport: TlsTransport, peer: PeerAddress) -> None:
    hello = json.dumps({"session": transport.session, "rank": transport.rank}).encode()
    try:
        sock.sendall(HEADER.pack(KIND_OBJECT, len(hello)) + hello)
        header = bytearray(HEADER.size)
        if not read_exactly(sock, memoryview(header)):
            raise ConnectionError("closed before answering")
        _, size = HEADER.unpack(header)
        answer = bytearray(min(size, MAX_HELLO))
        if not read_exactly(sock, memoryview(answer)):
            raise ConnectionError("closed before answering")
    except (OSError, ssl.SSLError) as err:
        raise PeerRefused(f"{peer_name(peer)} refused our certificate or hello: {err}") from err
    if bytes(answer) != b"ok":
        raise PeerRefused(f"{peer_name(peer)} refused us: {answer.decode(errors='replace')}")


def _check_peer(sock: ssl.SSLSocket, peer: PeerAddress) -> None:
    """Raise :class:`PeerRefused` unless ``sock``'s certificate is ``peer``'s."""
    der = sock.getpeercert(binary_form=True)
    if der is None:
        raise PeerRefused(f"{peer_name(peer)} presented no certificate")
    reason = identity_mismatch(der, peer)
    if reason:
        raise PeerRefused(reason)


def identity_mismatch(der: bytes, peer: PeerAddress) -> str | None:
    """Why certificate ``der`` is not ``peer``'s (instance id, pinned fingerprint), or None."""
    try:
        got = instance_id_of_der(der)
    except Exception as err:
        return f"{peer_name(peer)}: certificate names no instance ({err})"
    if got != peer.instance_id:
        return (
            f"rank {peer.rank} presented a certificate of instance {got!r}, but the committee "
            f"assignment names {peer.instance_id!r}"
        )
    if peer.fingerprint and fingerprint(der) != peer.fingerprint.lower():
        return f"{peer_name(peer)} presented a certificate other than the one it registered"
    return None
