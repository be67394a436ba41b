"""Party processes that write down every frame they send and receive, for the wire tests
(``test_wire.py``): a member that leaks its view to an outside process, the dealer's view,
and the application bytes a network recorder must not find on the wire.

:func:`wire_party_main` is :func:`committees.party.party_main` with recorders on the party's
end of the committee mesh (:class:`committees.transport.party_links.PartyLinks`, below TLS
nothing is recorded here: what crosses the network is the proxy's, ``wire_proxy.py``):

* every frame this party sends or receives (direction, peer rank, frame kind, payload bytes,
  wall-clock time), appended to ``frames-<rank>.bin`` in the ``MPCREC_TEST_VIEW_DIR``
  directory as it happens (the dealer has no round to end: it serves until told to stop);
* a member's opened input shares (``share_<i>``) and every ``(N, D)`` or ``(D,)`` result of
  ``all_reduce`` (the openings), kept for the round's view;
* in the dealer, every ring element it draws from the members' generators
  (``_get_additive_PRSS``: the joint masks it deals from), appended to ``dealer-masks.bin``;
  in a member, every ``all_reduce`` result, appended to ``openings-<rank>.bin`` (same format).

A member whose rank is in ``MPCREC_TEST_LEAKERS`` hands its view of each round (its input
shares, every frame it received or sent since its last leak, the dealer's words among them,
and every opening) to the outside process at ``MPCREC_TEST_OUTSIDER`` (``host:port``) over a
plain TCP connection once the round is done (:func:`leak`).
"""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from committees.party import CommitteeParty, party_main
from committees.transport.communicator import TlsCommunicator
from committees.transport.party_links import PartyLinks, bytes_of
from mpcrec.crypten_compat import load_crypten
from tests.adversarial.curious_view import VIEW_DIR_ENV

LEAKERS_ENV = "MPCREC_TEST_LEAKERS"
OUTSIDER_ENV = "MPCREC_TEST_OUTSIDER"

#: One recorded frame: time, direction (0 received, 1 sent), peer rank, kind, payload length.
FRAME = struct.Struct("<dBiBQ")
#: One recorded dealer mask: time, then its shape as two int64 (rows, columns; 1 row for 1-D).
MASK = struct.Struct("<dqq")


class _Recorder:
    """This party's view: the frame log on disk and the current round's view in memory."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rank: int | None = None
        self._file: BinaryIO | None = None
        self.round: dict[str, np.ndarray] = {}
        self.frames = 0

    def frame(self, direction: int, peer: int, kind: int, payload: bytes) -> None:
        rank = TlsCommunicator.instance.rank if TlsCommunicator.instance else -1
        if self._file is None or rank != self.rank:
            self.rank = rank
            self._file = open(self.out / f"frames-{rank}.bin", "ab")  # noqa: SIM115
        self._file.write(FRAME.pack(time.time(), direction, peer, kind, len(payload)) + payload)
        self._file.flush()
        name = "recv" if direction == 0 else "sent"
        self.round[f"{name}_{self.frames}_peer_{peer}_kind_{kind}"] = np.frombuffer(
            payload, dtype=np.uint8
        ).copy()
        self.frames += 1


_view: _Recorder | None = None


def _patch_links(view: _Recorder) -> None:
    send_frame, receive_frame = PartyLinks.send_frame, PartyLinks.receive_frame
    post_tensor, receive_into = PartyLinks.post_tensor, PartyLinks.receive_into

    def sent(self: PartyLinks, dst: int, kind: int, payload: Any) -> None:
        view.frame(1, dst, kind, bytes(payload))
        send_frame(self, dst, kind, payload)

    def received(self: PartyLinks, src: int, kind: int) -> Any:
        payload = receive_frame(self, src, kind)
        view.frame(0, src, kind, payload.tobytes())
        return payload

    def posted(self: PartyLinks, tensor: torch.Tensor, dst: int) -> Any:
        view.frame(1, dst, 1, bytes(bytes_of(tensor)))
        return post_tensor(self, tensor, dst)

    def read(self: PartyLinks, tensor: torch.Tensor, src: int) -> None:
        receive_into(self, tensor, src)
        view.frame(0, src, 1, bytes(bytes_of(tensor)))

    PartyLinks.send_frame = sent  # type: ignore[method-assign]
    PartyLinks.receive_frame = received  # type: ignore[method-assign]
    PartyLinks.post_tensor = posted  # type: ignore[method-assign]
    PartyLinks.receive_into = read  # type: ignore[method-assign]


def _patch_member(view: _Recorder, leakers: set[int], outsider: str) -> None:
    original_open, original_run = CommitteeParty.open, CommitteeParty.run
    original_all_reduce = TlsCommunicator.all_reduce

    def opened(self: CommitteeParty, spec: Any, inputs: Any) -> Any:
        shares = original_open(self, spec, inputs)
        for i, share in enumerate(shares):
            view.round[f"share_{i}"] = np.asarray(share, dtype=np.int64).copy()
        return shares

    def all_reduce(self: Any, input: Any, *args: Any, **kwargs: Any) -> Any:
        result = original_all_reduce(self, input, *args, **kwargs)
        if isinstance(result, torch.Tensor):
            view.round[f"opening_{view.frames}"] = result.numpy().copy()
            _append_array(view.out / f"openings-{self.rank}.bin", result)
        return result

    def run(self: CommitteeParty, spec: Any, inputs: Any) -> Any:
        outcome = original_run(self, spec, inputs)
        assert self.session is not None
        if self.session.rank in leakers:
            leak(
                outsider,
                {"who": "member", "rank": self.session.rank, "round": spec.round_id},
                view.round,
            )
        view.round = {}
        return outcome

    CommitteeParty.open = opened  # type: ignore[method-assign]
    CommitteeParty.run = run  # type: ignore[method-assign]
    TlsCommunicator.all_reduce = all_reduce  # type: ignore[method-assign]


def _patch_dealer(out: Path) -> None:
    from crypten.mpc.provider.ttp_provider import TTPServer

    original = TTPServer._get_additive_PRSS

    def drawn(self: Any, size: Any, remove_rank: bool = False) -> Any:
        result = original(self, size, remove_rank)
        _append_array(out / "dealer-masks.bin", result)
        return result

    TTPServer._get_additive_PRSS = drawn


def _append_array(path: Path, tensor: torch.Tensor) -> None:
    array = tensor.numpy().astype("<i8")
    rows = array.shape[0] if array.ndim >= 2 else 1
    with open(path, "ab") as file:
        file.write(MASK.pack(time.time(), rows, array.size // max(rows, 1)) + array.tobytes())


def leak(outsider: str, header: dict[str, Any], arrays: dict[str, Any]) -> None:
    """Send ``header`` (one JSON line) and ``arrays`` (an ``.npz``) to ``host:port``."""
    body = io.BytesIO()
    np.savez(body, **arrays)
    host, port = outsider.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(json.dumps(header).encode() + b"\n" + struct.pack("<Q", body.tell()))
        sock.sendall(body.getvalue())
        sock.recv(1)  # the outsider's acknowledgement: it has the whole view


def read_frames(path: Path) -> list[dict[str, Any]]:
    """The frames of a ``frames-<rank>.bin`` log: ``t``, ``sent``, ``peer``, ``kind``, ``data``."""
    raw, frames, at = path.read_bytes() if path.exists() else b"", [], 0
    while at < len(raw):
        t, direction, peer, kind, size = FRAME.unpack_from(raw, at)
        at += FRAME.size
        data = raw[at : at + size]
        frames.append({"t": t, "sent": bool(direction), "peer": peer, "kind": kind, "data": data})
        at += size
    return frames


def read_arrays(path: Path) -> list[tuple[float, np.ndarray]]:
    """Recorded masks or openings: ``(time, int64 array of rows x columns)``."""
    raw, masks, at = path.read_bytes() if path.exists() else b"", [], 0
    while at < len(raw):
        t, rows, cols = MASK.unpack_from(raw, at)
        at += MASK.size
        array = np.frombuffer(raw, dtype="<i8", offset=at, count=rows * cols).astype(np.int64)
        masks.append((t, array.reshape(rows, cols)))
        at += 8 * rows * cols
    return masks


def wire_party_main(conn: Any) -> None:
    """:func:`committees.party.party_main`, recording this party's frames (see module doc)."""
    global _view
    load_crypten()
    out = Path(os.environ[VIEW_DIR_ENV])
    _view = _Recorder(out)
    leakers = {int(r) for r in os.environ.get(LEAKERS_ENV, "").split(",") if r}
    _patch_links(_view)
    _patch_member(_view, leakers, os.environ.get(OUTSIDER_ENV, ""))
    _patch_dealer(out)
    party_main(conn)
