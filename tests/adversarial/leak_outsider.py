"""Someone outside the committee who is handed a member's whole view, and the launcher's.

``python -m tests.adversarial.leak_outsider --port PORT --out DIR --dim D --victim V`` listens
on 127.0.0.1:``PORT``. Leaking members (``wire_view.py``) send it their view of each round
(``{"who": "member", "rank", "round"}``: input shares, every frame they received or sent,
every opening); the launcher's holdings come the same way (``{"who": "launcher", "round"}``:
the ciphertext of every sealed envelope it relayed, and the published sum). On
``{"who": "end"}`` it pools, for each round, every vector of the victim's length it holds
(the attack: it does not know the victim's update) and writes ``DIR/pooled-<round>.npz``
(and the names of what each member handed it, ``DIR/views-<round>.json``):

* ``leak/...``: the leaking member's view (its share of the victim's contribution, the
  victim's row of every ``(N, D)`` frame or opening, every ``(D,)`` frame or opening) and
  the launcher's (the first ``8 D`` bytes of each of the victim's envelopes of that length,
  the published sum);
* ``all/...``: the positive control, every member's share of the victim's contribution and
  their sum in the ring (the threshold reached);
* ``published``: the published sum, on which the test conditions (it is public).

The rank of the leaking member is ``--leaker`` (default 0, the member holding the long share).
"""

from __future__ import annotations

import argparse
import io
import json
import socket
import struct
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(min(1 << 20, size - got))
        if not chunk:
            raise ConnectionError("closed mid-message")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _receive(sock: socket.socket) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    line = b""
    while not line.endswith(b"\n"):
        byte = sock.recv(1)
        if not byte:
            raise ConnectionError("closed before the header")
        line += byte
    (size,) = struct.unpack("<Q", _read_exactly(sock, 8))
    body = _read_exactly(sock, size)
    arrays = dict(np.load(io.BytesIO(body))) if size else {}
    sock.sendall(b"k")
    return json.loads(line), arrays


def _vectors(arrays: dict[str, np.ndarray], n: int, dim: int, victim: int) -> dict[str, np.ndarray]:
    """Every distinct vector of length ``dim`` in a member's view (the victim's row of each
    ``(n, dim)`` array)."""
    found: dict[str, np.ndarray] = {}
    for name, array in arrays.items():
        if name.startswith("share_"):
            if name == f"share_{victim}":
                found[name] = array.astype(np.int64)
            continue
        as_words = array.dtype == np.uint8 and array.size % 8 == 0
        words = np.asarray(array.view("<i8") if as_words else array).reshape(-1)
        if words.size == n * dim:
            found[f"{name}[victim row]"] = words.reshape(n, dim)[victim].astype(np.int64)
        elif words.size == dim:
            found[name] = words.astype(np.int64)
    unique: dict[str, np.ndarray] = {}  # a tensor sent to two peers is one vector
    for name, vector in found.items():
        if not any(np.array_equal(vector, seen) for seen in unique.values()):
            unique[name] = vector
    return unique


def pool(
    members: dict[int, dict[str, np.ndarray]],
    launcher: dict[str, np.ndarray],
    *,
    leaker: int,
    dim: int,
    victim: int,
) -> dict[str, np.ndarray]:
    """The pooled vectors of one round (see the module docstring)."""
    n = sum(1 for name in launcher if name.startswith("envelope_") and name.endswith("_0"))
    pooled = {f"leak/{k}": v for k, v in _vectors(members[leaker], n, dim, victim).items()}
    for name, ciphertext in launcher.items():
        if name.startswith(f"envelope_{victim}_") and ciphertext.size >= 8 * dim:
            pooled[f"leak/launcher {name}"] = ciphertext[: 8 * dim].view("<i8").astype(np.int64)
    pooled["leak/launcher published sum"] = launcher["published"]
    shares = [view[f"share_{victim}"] for _, view in sorted(members.items())]
    for rank, share in zip(sorted(members), shares, strict=True):
        pooled[f"all/member {rank} share"] = share
    pooled["all/the shares' sum in the ring"] = np.asarray(np.sum(shares, axis=0, dtype=np.int64))
    pooled["published"] = launcher["published"]
    return pooled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dim", type=int, required=True)
    parser.add_argument("--victim", type=int, default=0)
    parser.add_argument("--leaker", type=int, default=0)
    args = parser.parse_args()
    members: dict[int, dict[int, dict[str, np.ndarray]]] = defaultdict(dict)
    launcher: dict[int, dict[str, np.ndarray]] = {}
    with socket.create_server(("127.0.0.1", args.port)) as listener:
        (args.out / "outsider-ready").touch()
        while True:
            sock, _ = listener.accept()
            with sock:
                header, arrays = _receive(sock)
            if header["who"] == "member":
                members[header["round"]][header["rank"]] = arrays
            elif header["who"] == "launcher":
                launcher[header["round"]] = arrays
            else:
                break
    for round_id, views in sorted(members.items()):
        pooled = pool(
            views, launcher[round_id], leaker=args.leaker, dim=args.dim, victim=args.victim
        )
        saved: dict[str, Any] = dict(pooled)
        np.savez(args.out / f"pooled-{round_id}.npz", **saved)
        held = {rank: sorted(view) for rank, view in views.items()}
        (args.out / f"views-{round_id}.json").write_text(json.dumps(held))
    (args.out / "outsider-done").touch()


if __name__ == "__main__":
    main()
