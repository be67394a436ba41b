"""How a committee's CrypTen parties talk to each other: mutually authenticated TLS or gloo.

A committee assignment names, for every CrypTen rank (members ``0..k-1``, then the TTP
dealer when one is used), the instance that holds it, the address it serves MPC on, and
optionally its certificate's SHA-256 fingerprint. :class:`TlsTransport` carries that
assignment plus this party's own certificate; each party then accepts only the peers the
assignment names (see :mod:`committees.transport.mesh`).

:class:`GlooTransport` is torch.distributed's gloo, unencrypted and unauthenticated: kept for
tests and single-machine benchmarks, and refused for a rendezvous outside the loopback range
unless ``allow_remote`` is set, because anyone who records the links between members can add
the shares back up.

Select one with :func:`committees.transport.install.install_transport` before ``crypten.init()``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from mpcrec.crypto.pki import CertPaths
from mpcrec.errors import ConfigError

#: Default for how long a party waits for all its peers to connect.
CONNECT_TIMEOUT_S = 30.0
#: Default for how long a party waits for any one message before aborting the round.
RECV_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class PeerAddress:
    """One CrypTen rank of a committee as the assignment names it.

    Parameters
    ----------
    rank:
        CrypTen rank: members ``0..k-1``, the TTP dealer ``k``.
    instance_id:
        The instance holding the rank; its certificate must name it (SAN URI).
    host, port:
        Where the rank accepts its peers' TLS connections.
    fingerprint:
        SHA-256 of the certificate the instance registered (hex), pinned when given.
    """

    rank: int
    instance_id: str
    host: str
    port: int
    fingerprint: str | None = None


@dataclass(frozen=True)
class TlsTransport:
    """CrypTen over mutually authenticated TLS 1.3 between every pair of ranks.

    Parameters
    ----------
    rank:
        This party's rank.
    peers:
        Every rank of the session, this party's own included (its address is where it
        listens), dealer last when there is one.
    certs:
        This party's certificate, key and the committee's CA.
    session:
        An id both sides must agree on (the round id): a connection for another session
        is refused, so a late peer of an old round cannot join a new one.
    listen_host:
        Bind address; defaults to this party's own ``host`` (``0.0.0.0`` to listen on all).
    connect_timeout_s, recv_timeout_s:
        Bounds on set-up and on waiting for any single message.
    """

    rank: int
    peers: tuple[PeerAddress, ...]
    certs: CertPaths
    session: str = "mpcrec"
    listen_host: str | None = None
    connect_timeout_s: float = CONNECT_TIMEOUT_S
    recv_timeout_s: float = RECV_TIMEOUT_S

    def __post_init__(self) -> None:
        ranks = [peer.rank for peer in self.peers]
        if ranks != list(range(len(ranks))):
            raise ConfigError(
                f"committee assignment ranks are {ranks}, expected 0..{len(ranks) - 1} in order"
            )
        if not 0 <= self.rank < len(ranks):
            raise ConfigError(f"rank {self.rank} is not in the assignment (ranks {ranks})")
        if self.connect_timeout_s <= 0 or self.recv_timeout_s <= 0:
            raise ConfigError("transport timeouts must be positive")

    @property
    def me(self) -> PeerAddress:
        """This party's own entry of the assignment."""
        return self.peers[self.rank]


@dataclass(frozen=True)
class GlooTransport:
    """torch.distributed's gloo backend: plaintext, for loopback tests and benchmarks.

    Parameters
    ----------
    rendezvous:
        ``tcp://host:port`` (or ``file://``) as torch.distributed takes it.
    rank:
        This party's rank (members ``0..world_size-1``, the dealer ``world_size``).
    world_size:
        Number of members, the dealer excluded (as CrypTen counts).
    allow_remote:
        Allow a rendezvous host outside the loopback range. Shares then cross the network
        in the clear: never do this in a deployment.
    """

    rendezvous: str
    rank: int
    world_size: int
    allow_remote: bool = False

    def __post_init__(self) -> None:
        check_loopback(self.rendezvous, allow_remote=self.allow_remote)


Transport = TlsTransport | GlooTransport


def check_loopback(rendezvous: str, *, allow_remote: bool) -> None:
    """Refuse a gloo rendezvous outside the loopback range unless explicitly allowed.

    Raises
    ------
    ConfigError
        The host is not ``localhost`` or a loopback address and ``allow_remote`` is false.
    """
    url = urlsplit(rendezvous)
    if url.scheme == "file" or allow_remote:
        return
    host = url.hostname or ""
    if host == "localhost" or _is_loopback_ip(host):
        return
    raise ConfigError(
        f"gloo rendezvous {rendezvous!r} is outside the loopback range: gloo sends shares "
        "unencrypted and unauthenticated",
        hint="use transport 'tls' between machines; allow_remote is for isolated test networks",
    )


def gloo_environment(transport: GlooTransport) -> dict[str, str]:
    """Environment variables CrypTen's torch.distributed communicator reads for gloo.

    On loopback, ``GLOO_SOCKET_IFNAME=lo`` keeps gloo's own pair connections on loopback too
    (by default gloo binds the address the machine's host name resolves to).
    """
    env = {
        "DISTRIBUTED_BACKEND": "gloo",
        "RENDEZVOUS": transport.rendezvous,
        "WORLD_SIZE": str(transport.world_size),
        "RANK": str(transport.rank),
    }
    if not transport.allow_remote and "GLOO_SOCKET_IFNAME" not in os.environ:
        env["GLOO_SOCKET_IFNAME"] = "lo"
    return env


def tls_transport_from_config(
    config: Mapping[str, Any], *, rank: int, certs: CertPaths, session: str
) -> TlsTransport:
    """Build a :class:`TlsTransport` from a committee assignment as plain data.

    ``config["peers"]`` is a list of ``{"instance_id", "host", "port", "fingerprint"?}`` in
    rank order; ``connect_timeout_s``, ``recv_timeout_s`` and ``listen_host`` are optional.
    """
    try:
        peers = tuple(
            PeerAddress(
                rank=i,
                instance_id=str(p["instance_id"]),
                host=str(p["host"]),
                port=int(p["port"]),
                fingerprint=p.get("fingerprint"),
            )
            for i, p in enumerate(config["peers"])
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ConfigError(
            f"invalid committee assignment: {err!r}",
            hint="peers: a list of {instance_id, host, port[, fingerprint]} in rank order",
        ) from err
    return TlsTransport(
        rank=rank,
        peers=peers,
        certs=certs,
        session=session,
        listen_host=config.get("listen_host"),
        connect_timeout_s=float(config.get("connect_timeout_s", CONNECT_TIMEOUT_S)),
        recv_timeout_s=float(config.get("recv_timeout_s", RECV_TIMEOUT_S)),
    )


class AssignedMember(Protocol):
    """What an assignment says of one member: its instance id and ``host:port`` for MPC."""

    instance_id: str
    mpc_address: str


def committee_transport(
    members: Sequence[AssignedMember],
    *,
    rank: int,
    certs: CertPaths,
    session: str,
    timeout_s: float = RECV_TIMEOUT_S,
    listen_host: str | None = None,
) -> TlsTransport:
    """The TLS transport of rank ``rank`` for a committee drawn as ``members`` (rank order).

    Each member listens on its registered ``mpc_address`` and is pinned to its instance id;
    ``session`` (the round id) keeps parties of different rounds apart. A node builds this
    from a round's committee announcement and passes it as ``Session.transport``.
    """
    peers = tuple(
        PeerAddress(rank=i, instance_id=m.instance_id, host=host, port=port)
        for i, m in enumerate(members)
        for host, port in [split_host_port(m.mpc_address)]
    )
    return TlsTransport(
        rank=rank,
        peers=peers,
        certs=certs,
        session=session,
        listen_host=listen_host,
        connect_timeout_s=timeout_s,
        recv_timeout_s=timeout_s,
    )


def split_host_port(address: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` to ``(host, port)``; :class:`ConfigError` if malformed."""
    url = urlsplit(f"//{address}")
    try:
        port = url.port
    except ValueError:
        port = None
    if not url.hostname or port is None:
        raise ConfigError(f"invalid MPC address {address!r}", hint="use host:port")
    return url.hostname, port


def local_tls_peers(
    instance_ids: Sequence[str], ports: Sequence[int], *, host: str = "127.0.0.1"
) -> tuple[PeerAddress, ...]:
    """An assignment on one host, for tests and benchmarks."""
    return tuple(
        PeerAddress(rank=i, instance_id=iid, host=host, port=port)
        for i, (iid, port) in enumerate(zip(instance_ids, ports, strict=True))
    )


def certs_at(directory: Path, instance_id: str, ca: Path) -> CertPaths:
    """The :class:`CertPaths` ``issue_certificate`` wrote for ``instance_id`` in ``directory``."""
    return CertPaths(
        cert=directory / f"{instance_id}.pem", key=directory / f"{instance_id}.key", ca=ca
    )


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_committee_transports(
    directory: Path,
    ranks: int,
    *,
    host: str = "127.0.0.1",
    session: str = "local",
    recv_timeout_s: float = RECV_TIMEOUT_S,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
) -> list[TlsTransport]:
    """TLS transports for a committee of ``ranks`` processes on this machine.

    Creates a CA and one certificate per rank (``local-<rank>``) in ``directory`` the first
    time, and picks fresh free ports on ``host`` at every call (one call per session).
    """
    from mpcrec.crypto.pki import create_ca, issue_certificate

    ca_dir, cert_dir = directory / "ca", directory / "certs"
    ids = [f"local-{rank}" for rank in range(ranks)]
    if not (ca_dir / "ca.pem").exists():
        create_ca(ca_dir, common_name="mpcrec local committee CA")
    for iid in ids:
        if not (cert_dir / f"{iid}.pem").exists():
            issue_certificate(ca_dir, cert_dir, instance_id=iid, hosts=[host])
    peers = local_tls_peers(ids, [_free_port(host) for _ in ids], host=host)
    return [
        TlsTransport(
            rank=rank,
            peers=peers,
            certs=certs_at(cert_dir, ids[rank], ca_dir / "ca.pem"),
            session=session,
            connect_timeout_s=connect_timeout_s,
            recv_timeout_s=recv_timeout_s,
        )
        for rank in range(ranks)
    ]


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
