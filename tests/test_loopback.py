"""Loopback ports drawn below the kernel's ephemeral range."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mpcrec import loopback


def test_ports_are_drawn_below_the_ephemeral_range_and_bind() -> None:
    top = loopback.ephemeral_start()
    for _ in range(20):
        port = loopback.free_loopback_port()
        assert loopback.LOWEST <= port < top
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((loopback.HOST, port))


def test_the_ephemeral_range_is_read_and_defaults_when_unreadable(tmp_path: Path) -> None:
    (tmp_path / "range").write_text("40000\t60999\n")
    assert loopback.ephemeral_start(tmp_path / "range") == 40000
    assert loopback.ephemeral_start(tmp_path / "missing") == 32768
    (tmp_path / "bad").write_text("")
    assert loopback.ephemeral_start(tmp_path / "bad") == 32768


def test_no_room_below_the_range_falls_back_to_a_kernel_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loopback, "ephemeral_start", lambda: loopback.LOWEST + 10)
    port = loopback.free_loopback_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((loopback.HOST, port))
