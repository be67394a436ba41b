"""A network attacker on the committee's links: a TCP proxy that records every byte.

``python -m tests.adversarial.wire_proxy --out DIR --forward LISTEN:TARGET [...] [--hold FILE]``
listens on each ``LISTEN`` port of 127.0.0.1 and relays every connection to ``TARGET`` (a
port of 127.0.0.1), both ways, writing each direction's bytes as they pass to
``DIR/flow-<n>-<listen>-up.bin`` (from the dialler) and ``-down.bin`` (to it). With
``--hold``, a connection is relayed only once ``FILE`` exists (the stranger's knock at a
party, ``stranger.py``, comes first). ``DIR/ready`` appears once every port listens. It runs
until it is killed (by its pid); every write is unbuffered, so nothing is lost then.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import socket
import threading
import time
from pathlib import Path

HOLD_LIMIT_S = 120.0


def _pump(src: socket.socket, dst: socket.socket, record: Path) -> None:
    with open(record, "wb", buffering=0) as out:
        while True:
            try:
                data = src.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            out.write(data)
            try:
                dst.sendall(data)
            except OSError:
                break
    for sock in (src, dst):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _relay(
    client: socket.socket, n: int, listen: int, target: int, out: Path, hold: Path | None
) -> None:
    deadline = time.monotonic() + HOLD_LIMIT_S
    while hold is not None and not hold.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        upstream = socket.create_connection(("127.0.0.1", target), timeout=30)
    except OSError:
        client.close()
        return
    for sock in (client, upstream):
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stem = f"flow-{n}-{listen}"
    down = threading.Thread(
        target=_pump, args=(upstream, client, out / f"{stem}-down.bin"), daemon=True
    )
    down.start()
    _pump(client, upstream, out / f"{stem}-up.bin")
    down.join()
    client.close()
    upstream.close()


def _serve(
    listener: socket.socket,
    listen: int,
    target: int,
    out: Path,
    hold: Path | None,
    counter: itertools.count[int],
    lock: threading.Lock,
) -> None:
    while True:
        client, _ = listener.accept()
        with lock:
            n = next(counter)
        threading.Thread(
            target=_relay, args=(client, n, listen, target, out, hold), daemon=True
        ).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--forward", action="append", required=True, help="LISTEN:TARGET")
    parser.add_argument("--hold", type=Path)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    counter, lock = itertools.count(), threading.Lock()
    threads = []
    for pair in args.forward:
        listen, target = (int(p) for p in pair.split(":"))
        listener = socket.create_server(("127.0.0.1", listen))
        threads.append(
            threading.Thread(
                target=_serve,
                args=(listener, listen, target, args.out, args.hold, counter, lock),
                daemon=True,
            )
        )
    for thread in threads:
        thread.start()
    (args.out / "ready").touch()
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main()
