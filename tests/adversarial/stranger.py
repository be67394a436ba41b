"""A stranger knocks: a client process that tries a TLS handshake with each certificate given.

``python -m tests.adversarial.stranger --target HOST:PORT --out result.json
--attempt NAME[:CERT:KEY] [...] [--h2] [--release FILE]`` connects to ``HOST:PORT`` once per
attempt (retrying until the port listens), offers the certificate (none without
``CERT:KEY``), trusts any server certificate (a stranger does not care who answers), and
then speaks first: the committee party's hello (``{"session": "stranger", "rank": 1}``, a
session no party is in, so even a certificate the party accepts is turned away by the
application after the handshake) or, with ``--h2``, the HTTP/2 preface and an empty
SETTINGS frame (what a gRPC client sends first). It records what came back: the
application's answer (``answer``, hex) or the TLS alert that ended the connection
(``error``). In TLS 1.3 the client's side of the handshake completes before the server
has checked the client's certificate, so a refusal at the handshake arrives as an alert on
the first read. With ``--release`` it touches ``FILE`` once done (the proxy then lets the
committee's own links through).
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import time
from pathlib import Path
from typing import Any

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")
CONNECT_S = 60.0


def _hello() -> bytes:
    body = json.dumps({"session": "stranger", "rank": 1}).encode()
    return b"\x02" + len(body).to_bytes(8, "big") + body


def _connect(host: str, port: int) -> socket.socket:
    deadline = time.monotonic() + CONNECT_S
    while True:
        try:
            return socket.create_connection((host, port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def attempt(host: str, port: int, cert: str | None, key: str | None, h2: bool) -> dict[str, Any]:
    """One handshake and first exchange; what the server sent back, or how it refused."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if h2:
        ctx.set_alpn_protocols(["h2"])
    if cert and key:
        ctx.load_cert_chain(cert, key)
    raw = _connect(host, port)
    result: dict[str, Any] = {"certificate": cert, "handshake": False, "answer": "", "error": ""}
    try:
        with ctx.wrap_socket(raw, suppress_ragged_eofs=False) as tls:
            result["handshake"] = True  # our side of it: the server may still refuse
            result["version"] = tls.version()
            tls.sendall(H2_PREFACE if h2 else _hello())
            answer = tls.recv(4096)
            result["answer"] = answer.hex()
    except (ssl.SSLError, OSError) as err:
        result["error"] = f"{type(err).__name__}: {err}"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--attempt", action="append", required=True, help="NAME[:CERT:KEY]")
    parser.add_argument("--h2", action="store_true")
    parser.add_argument("--release", type=Path)
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    results = {}
    try:
        for spec in args.attempt:
            name, _, files = spec.partition(":")
            cert, _, key = files.partition(":")
            results[name] = attempt(host, int(port), cert or None, key or None, args.h2)
    finally:
        args.out.write_text(json.dumps(results, indent=1))
        if args.release is not None:
            args.release.touch()


if __name__ == "__main__":
    main()
