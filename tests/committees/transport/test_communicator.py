"""CrypTen over the committee's TLS mesh: same results as gloo, no share on the wire, clean aborts.

Real party processes, real TLS, real certificates; the gloo runs are the reference.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from committees.transport.settings import TlsTransport
from tests.committees.transport.capture import LoopbackCapture, can_capture, windows_found
from tests.committees.transport.parties import (
    Committee,
    arithmetic_program,
    busy_program,
    make_committee,
    run_parties,
    transports,
)

MEMBERS = 3
Runs = dict[str, dict[int, tuple[Any, str | None, float]]]


@pytest.fixture(scope="module")
def committee(tmp_path_factory: pytest.TempPathFactory) -> Committee:
    return make_committee(tmp_path_factory.mktemp("committee"), MEMBERS + 1)


@pytest.fixture(scope="module")
def replicated_runs(committee: Committee) -> tuple[Runs, dict[str, bytes]]:
    """The arithmetic program over gloo then TLS (replicated, 3 members), captured if allowed."""
    runs: Runs = {}
    wire: dict[str, bytes] = {}
    for kind in ("gloo", "tls"):
        all_transports = transports(kind, committee, MEMBERS, MEMBERS)
        # TLS: exactly the links between the members (each has a member's listening port);
        # gloo: its pair connections use ports we do not know, so everything on loopback
        tls_ports = {p.port for t in all_transports if isinstance(t, TlsTransport) for p in t.peers}
        with LoopbackCapture() if can_capture() else contextlib.nullcontext() as capture:
            runs[kind] = run_parties(
                all_transports, "replicated", arithmetic_program, members=MEMBERS
            )
        wire[kind] = capture.stream(tls_ports or None) if capture is not None else b""
    return runs, wire


def _results(runs: dict[int, tuple[Any, str | None, float]]) -> dict[int, Any]:
    errors = {rank: err for rank, (_, err, _) in runs.items() if err}
    assert not errors, errors
    return {rank: result for rank, (result, _, _) in runs.items()}


def _assert_identical(gloo: dict[int, Any], tls: dict[int, Any]) -> None:
    for rank in range(MEMBERS):
        assert gloo[rank].keys() == tls[rank].keys()
        for key, want in gloo[rank].items():
            got = tls[rank][key]
            if isinstance(want, np.ndarray):
                assert want.dtype == got.dtype and np.array_equal(want, got), (rank, key)
            else:
                assert got == want, (rank, key)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.xdist_group("tls-replicated")
def test_replicated_round_is_bit_identical_to_gloo(
    replicated_runs: tuple[Runs, dict[str, bytes]],
) -> None:
    runs, _ = replicated_runs
    gloo, tls = _results(runs["gloo"]), _results(runs["tls"])
    _assert_identical(gloo, tls)
    # and the program computed what it should (fixed point: 16 fractional bits)
    from tests.committees.transport.parties import inputs

    x, y = (v.numpy().astype(np.float64) for v in inputs())
    assert np.allclose(tls[0]["sum"], x + y, atol=1e-4, rtol=0)  # 2 inputs x 2^-16, float32
    assert np.allclose(tls[0]["product"], x * y, atol=2e-3, rtol=1e-4)
    assert np.array_equal(tls[0]["less"], (x < y).astype(np.float32))
    assert tls[0]["stats"]["rounds"] > 0 and tls[0]["stats"]["bytes"] > 0


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.xdist_group("tls-replicated")
@pytest.mark.skipif(not can_capture(), reason="the packet capture needs CAP_NET_RAW on lo")
def test_no_share_crosses_loopback_in_the_clear(
    replicated_runs: tuple[Runs, dict[str, bytes]],
) -> None:
    runs, wire = replicated_runs
    for rank, result in _results(runs["tls"]).items():
        share = result["x_share"].tobytes()
        # the same share crossed the wire in the clear over gloo: the detector works
        assert windows_found(share, wire["gloo"], sample=32) >= 16, rank
        # over TLS, not one 8-byte-aligned 8-byte window of it, anywhere between the members
        assert windows_found(share, wire["tls"]) == 0, rank
    assert len(wire["tls"]) > 100_000  # the TLS run's traffic was captured


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dealer_round_is_bit_identical_to_gloo(committee: Committee) -> None:
    total = MEMBERS + 1
    runs = {
        kind: run_parties(
            transports(kind, committee, MEMBERS, total), "ttp", arithmetic_program, members=MEMBERS
        )
        for kind in ("gloo", "tls")
    }
    _assert_identical(_results(runs["gloo"]), _results(runs["tls"]))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_member_killed_mid_round_aborts_every_survivor(committee: Committee) -> None:
    runs = run_parties(
        transports("tls", committee, MEMBERS, MEMBERS),
        "replicated",
        busy_program,
        members=MEMBERS,
        kill_rank=1,
        kill_after=1.0,
    )
    for rank in (0, 2):
        result, error, after_kill = runs[rank]
        assert result is None and error is not None, rank
        # the program would run 60 s; the survivor stopped at once (recv timeout is 30 s)
        assert after_kill < 15, (rank, after_kill)
        assert error.startswith(("PeerLost", "TransportError")), error
        assert "lost" in error or "already failed" in error, error


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_member_that_hangs_times_out_every_survivor(tmp_path: Path) -> None:
    committee = make_committee(tmp_path, MEMBERS)
    all_transports = [
        committee.tls(t.rank, [p.port for p in t.peers], recv_timeout_s=3)  # type: ignore[union-attr]
        for t in transports("tls", committee, MEMBERS, MEMBERS)
    ]
    runs = run_parties(
        all_transports,
        "replicated",
        busy_program,
        members=MEMBERS,
        kill_rank=2,
        kill_after=1.0,
        kill_signal=signal.SIGSTOP,
        timeout=60,
    )
    for rank in (0, 1):
        result, error, after_stop = runs[rank]
        assert result is None and error is not None, rank
        assert after_stop < 3 + 15, (rank, after_stop)  # the 3 s timeout, plus slack
        assert error.startswith(("PeerTimeout", "PeerLost", "TransportError")), error
    # at least one survivor saw the silence itself (the others then saw it drop its links)
    assert any("within 3 s" in (runs[rank][1] or "") for rank in (0, 1)), runs
