"""The TLS mesh on its own: who is let in, who is refused and why, and frames both ways."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from committees.transport.errors import PeerRefused, PeerTimeout, TransportError
from committees.transport.frames import KIND_BYTES
from committees.transport.mesh import Mesh, connect_mesh
from committees.transport.settings import (
    GlooTransport,
    PeerAddress,
    TlsTransport,
    check_loopback,
    committee_transport,
    split_host_port,
)
from mpcrec.crypto.pki import CertPaths, create_ca, fingerprint, issue_certificate
from mpcrec.errors import ConfigError
from tests.committees.transport.mesh_parties import frame_bytes, run_mesh_parties
from tests.committees.transport.parties import Committee, make_committee
from tests.net import free_port


@pytest.fixture
def committee(tmp_path: Path) -> Committee:
    return make_committee(tmp_path, 3)


def _transports(committee: Committee, size: int, **kwargs: Any) -> list[TlsTransport]:
    ports = [free_port() for _ in range(size)]
    kwargs.setdefault("connect_timeout_s", 10)
    return [committee.tls(rank, ports, **kwargs) for rank in range(size)]


def _connect_all(transports: list[TlsTransport]) -> dict[int, Mesh | BaseException]:
    """Run ``connect_mesh`` for every transport in its own thread; meshes or errors by rank."""
    results: dict[int, Mesh | BaseException] = {}

    def run(transport: TlsTransport) -> None:
        try:
            results[transport.rank] = connect_mesh(transport)
        except BaseException as err:
            results[transport.rank] = err

    threads = [threading.Thread(target=run, args=(t,)) for t in transports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _close(results: dict[int, Mesh | BaseException]) -> None:
    for value in results.values():
        if isinstance(value, Mesh):
            value.close()


def _with_certs(transport: TlsTransport, certs: CertPaths, **changes: Any) -> TlsTransport:
    return dataclasses.replace(transport, certs=certs, **changes)


@pytest.mark.timeout(60)
def test_mesh_carries_large_frames_both_ways_at_once(committee: Committee) -> None:
    # every rank writes 4 MB to every other with blocking sends (more than a loopback link
    # buffers: 4 MB send + what the receiver's window has grown to) and reads its own links
    # on a thread of its own, as a real party does; it reads them in the opposite order to
    # the one its peers write in. One thread reading for all three ranks, rank after rank,
    # can stall: it may wait for rank 0's frame to rank 2 while rank 0 is still writing to
    # rank 1, whose links that thread reads later (docs/committee-transport.md)
    results = _connect_all(_transports(committee, 3))
    try:
        meshes = {rank: m for rank, m in results.items() if isinstance(m, Mesh)}
        assert len(meshes) == 3, results
        payload = {rank: os.urandom(4_000_000) for rank in meshes}
        received: dict[tuple[int, int], bytes] = {}

        def send_all(rank: int) -> None:  # every rank sends to every other at the same time
            for dst in sorted(meshes[rank].outgoing):
                meshes[rank].outgoing[dst].send(KIND_BYTES, payload[rank])

        def read_all(rank: int) -> None:
            for src in sorted(meshes[rank].incoming, reverse=True):
                received[(rank, src)] = meshes[rank].incoming[src].receive(KIND_BYTES).tobytes()

        threads = [
            threading.Thread(target=f, args=(r,)) for f in (send_all, read_all) for r in meshes
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=45)
        assert sorted(received) == [(r, s) for r in range(3) for s in range(3) if r != s]
        for (rank, src), data in received.items():
            assert data == payload[src], (rank, src)
    finally:
        _close(results)


@pytest.mark.timeout(60)
def test_certificate_from_another_ca_is_refused(committee: Committee, tmp_path: Path) -> None:
    rogue_ca = create_ca(tmp_path / "rogue-ca")
    rogue = issue_certificate(
        tmp_path / "rogue-ca", tmp_path / "rogue", instance_id="member-1", hosts=["127.0.0.1"]
    )
    transports = _transports(committee, 2, connect_timeout_s=3)
    transports[1] = _with_certs(transports[1], CertPaths(rogue.cert, rogue.key, rogue_ca.cert))
    results = _connect_all(transports)
    _close(results)
    assert isinstance(results[0], PeerRefused), results
    assert "certificate verify failed" in str(results[0])
    assert isinstance(results[1], PeerRefused | PeerTimeout), results


@pytest.mark.timeout(60)
def test_valid_certificate_of_another_instance_is_refused(committee: Committee) -> None:
    transports = _transports(committee, 2, connect_timeout_s=3)
    # member-2 holds a valid certificate of the same CA, but rank 1 is member-1's
    impostor_view = (transports[1].peers[0], dataclasses.replace(transports[1].peers[1],
                     instance_id="member-2"))  # fmt: skip
    transports[1] = _with_certs(
        transports[1],
        CertPaths(
            committee.cert_dir / "member-2.pem", committee.cert_dir / "member-2.key", committee.ca
        ),
        peers=impostor_view,
    )
    results = _connect_all(transports)
    _close(results)
    assert isinstance(results[0], PeerRefused), results
    assert "instance 'member-2', but the committee assignment names 'member-1'" in str(results[0])


@pytest.mark.timeout(60)
def test_expired_certificate_is_refused(committee: Committee, tmp_path: Path) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    expired = issue_certificate(
        committee.ca.parent, tmp_path / "old", instance_id="member-1", hosts=[], days=1,
        valid_from=old,
    )  # fmt: skip
    transports = _transports(committee, 2, connect_timeout_s=3)
    transports[1] = _with_certs(transports[1], expired)
    results = _connect_all(transports)
    _close(results)
    assert isinstance(results[0], PeerRefused), results
    assert "certificate has expired" in str(results[0])


@pytest.mark.timeout(60)
def test_pinned_fingerprint_must_match(committee: Committee, tmp_path: Path) -> None:
    reissued = issue_certificate(
        committee.ca.parent, tmp_path / "new", instance_id="member-1", hosts=[]
    )
    transports = _transports(committee, 2, connect_timeout_s=3)
    pinned = dataclasses.replace(
        transports[0].peers[1], fingerprint=fingerprint(reissued.cert.read_bytes())
    )
    transports[0] = dataclasses.replace(transports[0], peers=(transports[0].peers[0], pinned))
    results = _connect_all(transports)
    _close(results)
    assert isinstance(results[0], PeerRefused), results
    assert "other than the one it registered" in str(results[0])


@pytest.mark.timeout(30)
def test_peer_that_never_connects_times_out(committee: Committee) -> None:
    transports = _transports(committee, 3, connect_timeout_s=1.5)
    start = time.monotonic()
    results = _connect_all(transports[:2])  # rank 2 never starts
    _close(results)
    assert time.monotonic() - start < 10
    for rank in (0, 1):
        assert isinstance(results[rank], PeerTimeout), results
        assert "rank 2 (member-2)" in str(results[rank])


@pytest.mark.timeout(60)
def test_stranger_cannot_block_the_committee(committee: Committee, tmp_path: Path) -> None:
    """A connection with a foreign certificate is refused; the real peers still connect."""
    transports = _transports(committee, 2)
    create_ca(tmp_path / "stranger-ca")
    stranger = issue_certificate(
        tmp_path / "stranger-ca", tmp_path / "s", instance_id="member-1", hosts=[]
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(stranger.cert, stranger.key)
    results: dict[int, Mesh | BaseException] = {}
    rank0 = threading.Thread(target=lambda: results.update(_connect_all(transports[:1])))
    rank0.start()
    port = transports[0].me.port
    for _ in range(100):  # knock until rank 0 listens
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    with pytest.raises((ssl.SSLError, OSError)), ctx.wrap_socket(raw) as tls:
        tls.sendall(b"\x02" + (20).to_bytes(8, "big") + b'{"rank": 1}'.ljust(20))
        tls.recv(1)  # the refusal arrives as a TLS alert
    results.update(_connect_all(transports[1:]))
    rank0.join(timeout=30)
    _close(results)
    assert all(isinstance(m, Mesh) for m in results.values()), results


@pytest.mark.timeout(30)
def test_wrong_session_is_refused(committee: Committee) -> None:
    transports = _transports(committee, 2, connect_timeout_s=2)
    transports[1] = dataclasses.replace(transports[1], session="round-41")
    results = _connect_all(transports)
    _close(results)
    assert isinstance(results[1], PeerRefused), results
    assert "session 'round-41'" in str(results[1])


def test_own_certificate_must_be_the_assigned_instance(committee: Committee) -> None:
    transport = _transports(committee, 2)[0]
    wrong = CertPaths(
        committee.cert_dir / "member-1.pem", committee.cert_dir / "member-1.key", committee.ca
    )
    with pytest.raises(ConfigError, match="names instance 'member-1', but rank 0"):
        connect_mesh(_with_certs(transport, wrong))


def test_assignment_must_list_ranks_in_order(committee: Committee) -> None:
    peers = (PeerAddress(1, "member-1", "127.0.0.1", 1), PeerAddress(0, "member-0", "h", 2))
    certs = CertPaths(committee.cert_dir / "member-0.pem", Path("k"), committee.ca)
    with pytest.raises(ConfigError, match="ranks are"):
        TlsTransport(rank=0, peers=peers, certs=certs)


@pytest.mark.parametrize("url", ["tcp://127.0.0.1:1", "tcp://localhost:1", "tcp://[::1]:1"])
def test_gloo_on_loopback_is_allowed(url: str) -> None:
    check_loopback(url, allow_remote=False)
    assert GlooTransport(url, rank=0, world_size=3).rendezvous == url


@pytest.mark.parametrize("url", ["tcp://10.0.0.2:29500", "tcp://node7.example:1"])
def test_gloo_outside_loopback_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ConfigError, match="outside the loopback range"):
        GlooTransport(url, rank=0, world_size=3)
    GlooTransport(url, rank=0, world_size=3, allow_remote=True)


@dataclasses.dataclass
class _Member:
    instance_id: str
    mpc_address: str


def test_committee_transport_from_an_assignment(committee: Committee) -> None:
    members = [_Member("member-0", "10.0.0.1:7600"), _Member("member-1", "[::1]:7601")]
    transport = committee_transport(
        members, rank=1, certs=committee.tls(1, [1, 2]).certs, session="round-9", timeout_s=20
    )
    assert transport.me == PeerAddress(1, "member-1", "::1", 7601)
    assert transport.peers[0] == PeerAddress(0, "member-0", "10.0.0.1", 7600)
    assert (transport.session, transport.recv_timeout_s) == ("round-9", 20)


@pytest.mark.parametrize("bad", ["nohost", "host:", "host:port", ":80"])
def test_malformed_mpc_address_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid MPC address"):
        split_host_port(bad)


@pytest.mark.timeout(60)
def test_posted_frames_cross_while_every_party_reads_on_its_own_thread(
    committee: Committee,
) -> None:
    # each party posts 40 MB to every other (more than loopback's socket buffers hold: at
    # most 32 MB receive + 4 MB send), then reads on its own thread, then waits for its
    # posts: nobody reads in a helper thread, so this only finishes if posting does not
    # wait for the peer to read
    results = _connect_all(_transports(committee, 3))
    try:
        meshes = {rank: m for rank, m in results.items() if isinstance(m, Mesh)}
        assert len(meshes) == 3, results
        payload = {rank: os.urandom(40 << 20) for rank in meshes}
        received: dict[tuple[int, int], bytes] = {}

        def party(rank: int) -> None:
            mesh = meshes[rank]
            posted = [link.post(KIND_BYTES, payload[rank]) for link in mesh.outgoing.values()]
            for src, link in mesh.incoming.items():
                buffer = bytearray(len(payload[src]))
                link.receive(KIND_BYTES, into=memoryview(buffer))
                received[(rank, src)] = hashlib.sha256(buffer).digest()
            for request in posted:
                request.wait()

        threads = [threading.Thread(target=party, args=(r,)) for r in meshes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=45)
        assert sorted(received) == [(r, s) for r in range(3) for s in range(3) if r != s]
        for (rank, src), data in received.items():
            assert data == hashlib.sha256(payload[src]).digest(), (rank, src)
    finally:
        _close(results)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_party_processes_posting_large_frames_every_way_never_stall(committee: Committee) -> None:
    # three real party processes, each on its one thread: every round each posts 40 MB to
    # every other (more than a loopback link buffers), then reads all its links (half of
    # them in the opposite order to the one their peers post in), then waits for its posts
    size, rounds = 40 << 20, 3
    all_transports = _transports(committee, 3, connect_timeout_s=30, recv_timeout_s=30)

    reports = run_mesh_parties(all_transports, size, rounds, timeout=90)

    assert {rank: error for rank, (_, error) in reports.items()} == {0: None, 1: None, 2: None}
    for rank, (digests, _) in reports.items():
        want = {
            (n, src): hashlib.sha256(frame_bytes(src, n, size)).digest()
            for n in range(rounds)
            for src in range(3)
            if src != rank
        }
        assert digests == want, rank


@pytest.mark.timeout(60)
def test_frame_of_unexpected_size_is_refused_and_the_link_stays_failed(
    committee: Committee,
) -> None:
    results = _connect_all(_transports(committee, 2))
    try:
        meshes = {rank: m for rank, m in results.items() if isinstance(m, Mesh)}
        assert len(meshes) == 2, results
        meshes[0].outgoing[1].send(KIND_BYTES, b"x" * 24)
        link = meshes[1].incoming[0]
        with pytest.raises(TransportError, match="24 bytes where 16 were expected"):
            link.receive(KIND_BYTES, into=memoryview(bytearray(16)))
        with pytest.raises(TransportError, match="out of step"):
            link.receive(KIND_BYTES)
    finally:
        _close(results)
