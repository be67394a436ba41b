"""One committee run for the wire tests: real party processes, an outsider, a proxy, a stranger.

:func:`run_wired_rounds` starts, each as its own process:

* the outsider (``leak_outsider.py``), to which every member leaks its view of each round;
* a Beaver committee of three with a TTP dealer (:class:`WiredCommittee`, party processes of
  ``wire_view.py`` recording every frame they send and receive);
* the network attacker (``wire_proxy.py``): every rank's listening port has a relay in
  front of it, and every other rank dials the relay, so every byte of every link of the
  session passes through it and is recorded;
* a stranger (``stranger.py``) that knocks at member 0's real listening port while the
  proxy still holds the committee's own links, then lets them through.

It then runs two rounds on sealed envelopes (``N`` contributions of length ``DIM`` each),
hands the outsider what the launcher holds (every envelope's ciphertext, the published sum)
and writes ``rounds.json`` (each round's start and end times). Every process is killed by
its pid at the end.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from committees import local_committee
from committees.local_committee import LocalCommittee
from committees.session import SealedInputs, SessionSettings
from committees.transport.frames import KIND_BYTES
from committees.transport.settings import TlsTransport
from mpcrec.crypto.codec import encode
from mpcrec.crypto.envelope import seal_shares
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.crypto.sharing import expand_seed, split
from mpcrec.secure.program import RoundOutcome, RoundSpec
from tests.adversarial.curious_view import VIEW_DIR_ENV
from tests.adversarial.wire_view import (
    LEAKERS_ENV,
    OUTSIDER_ENV,
    leak,
    read_frames,
    wire_party_main,
)
from tests.net import free_port

N, DIM, VICTIM, MEMBERS = 3, 1000, 0, 3
ROUND_SEEDS = {1: 31, 2: 32}
MODEL_HASH = b"\x07" * 32
REPO = Path(__file__).resolve().parents[2]
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def start(root: Path, procs: dict[str, subprocess.Popen[bytes]], name: str, *args: str) -> None:
    """``python -m tests.adversarial.<name> args`` as its own process (log in ``name.log``)."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    with open(root / f"{name}.log", "ab") as log:
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", f"tests.adversarial.{name}", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={**os.environ, "PYTHONPATH": path},
            start_new_session=True,
        )


def wait_file(path: Path, procs: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    """Wait for ``path``; fail at once if one of ``procs`` has died."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        for name, proc in procs.items():
            if proc.poll() is not None and name != "stranger":
                log_file = path.parent / f"{name}.log"
                log = log_file.read_text()[-2000:] if log_file.exists() else ""
                raise AssertionError(f"{name} exited with {proc.returncode}: {log}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {path.name} within {timeout:.0f} s")
        time.sleep(0.02)


def wait_dealer_set_up(
    root: Path, procs: dict[str, subprocess.Popen[bytes]], timeout: float
) -> None:
    """Wait until the dealer has read every member's set-up barrier (an empty bytes frame).

    The session is ready once the members are, and a member's barrier with the dealer can
    still be unread then: round 1's window would hold it and round 2's not (stop 23's CI).
    """
    frames = root / f"frames-{MEMBERS}.bin"
    deadline = time.monotonic() + timeout
    while True:
        try:
            received = [f for f in read_frames(frames) if not f["sent"]]
        except struct.error:  # the dealer is writing a frame just now
            received = []
        barriers = {f["peer"] for f in received if f["kind"] == KIND_BYTES and not f["data"]}
        if barriers >= set(range(MEMBERS)):
            return
        wait_file(frames, procs, max(deadline - time.monotonic(), 0.0))
        if time.monotonic() > deadline:
            raise AssertionError(f"the dealer read set-up barriers from {sorted(barriers)} only")
        time.sleep(0.02)


def stranger_certificates(root: Path, ca_dir: Path, instance_id: str) -> list[str]:
    """The stranger's refused attempts, each naming ``instance_id``: no certificate, another
    CA's, and an expired one of the CA in ``ca_dir`` (there is no revocation: expiry is how
    a certificate stops counting)."""
    create_ca(root / "rogue-ca")
    other = issue_certificate(
        root / "rogue-ca", root / "rogue", instance_id=instance_id, hosts=["127.0.0.1"]
    )
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    expired = issue_certificate(
        ca_dir, root / "expired", instance_id=instance_id, hosts=[], days=1, valid_from=old
    )
    return [
        "no-certificate",
        f"other-ca:{other.cert}:{other.key}",
        f"expired:{expired.cert}:{expired.key}",
    ]


class WiredCommittee(LocalCommittee):
    """A :class:`LocalCommittee` whose links all run through the proxy process."""

    def __init__(self, root: Path, procs: dict[str, subprocess.Popen[bytes]], **kw: Any):
        super().__init__(MEMBERS, **kw)
        self.root, self.procs = root, procs

    def _tls_transports(self) -> list[TlsTransport | None]:
        real = [t for t in super()._tls_transports() if isinstance(t, TlsTransport)]
        assert self._sessions == 1, "a second committee session: the first one aborted"
        relay = [free_port() for _ in real]
        forwards = [f"--forward={relay[t.rank]}:{t.me.port}" for t in real]
        release = self.root / "released"
        start(
            self.root,
            self.procs,
            "wire_proxy",
            "--out",
            str(self.root / "proxy"),
            "--hold",
            str(release),
            *forwards,
        )
        wait_file(self.root / "proxy" / "ready", self.procs, 60)
        attempts = stranger_certificates(self.root, real[0].certs.ca.parent, "local-1")
        # the control: member 1's own certificate, accepted at the handshake
        attempts.append(f"committee-ca:{real[1].certs.cert}:{real[1].certs.key}")
        start(
            self.root,
            self.procs,
            "stranger",
            "--target",
            f"127.0.0.1:{real[0].me.port}",
            "--out",
            str(self.root / "stranger-party.json"),
            "--release",
            str(release),
            *(f"--attempt={a}" for a in attempts),
        )
        return [
            dataclasses.replace(
                t,
                peers=tuple(
                    p if p.rank == t.rank else dataclasses.replace(p, port=relay[p.rank])
                    for p in t.peers
                ),
            )
            for t in real
        ]


def round_updates(round_id: int) -> list[np.ndarray]:
    """The contributions of ``round_id`` (as in ``test_coalition.py``: norm about 0.3)."""
    rng = np.random.default_rng(ROUND_SEEDS[round_id])
    return [rng.normal(0, 0.3 / np.sqrt(DIM), DIM) for _ in range(N)]


def sealed_round(
    round_id: int, member_keys: list[X25519PrivateKey]
) -> tuple[list[SealedInputs], dict[str, Any]]:
    """Every contribution split and sealed to the members; and what the test keeps:
    ``share_<i>_<j>`` (member ``j``'s share of contribution ``i``), ``seed_<i>_<j>``,
    ``envelope_<i>_<j>`` (the ciphertext the launcher relays)."""
    pubs = [k.public_key().public_bytes(*_RAW) for k in member_keys]
    signers = [Ed25519PrivateKey.generate() for _ in range(N)]
    kept: dict[str, Any] = {}
    sealed = []
    for i, update in enumerate(round_updates(round_id)):
        first, seeds = split(encode(update), MEMBERS)
        kept[f"share_{i}_0"] = first
        for j, seed in enumerate(seeds, start=1):
            kept[f"share_{i}_{j}"] = expand_seed(seed, DIM)
            kept[f"seed_{i}_{j}"] = np.frombuffer(seed, dtype=np.uint8).copy()
        envelopes = seal_shares(
            [first.astype("<i8").tobytes(), *seeds],
            member_keys=pubs,
            signing_key=signers[i],
            round_id=round_id,
            model_hash=MODEL_HASH,
            contributor_id=f"c{i}",
        )
        for j, envelope in enumerate(envelopes):
            kept[f"envelope_{i}_{j}"] = np.frombuffer(envelope.ciphertext, dtype=np.uint8).copy()
        sealed.append(envelopes)
    signer_pubs = tuple(s.public_key().public_bytes(*_RAW) for s in signers)
    inputs = [
        SealedInputs(
            tuple(envelopes[j] for envelopes in sealed),
            member_keys[j].private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            ),
            signer_pubs,
            MODEL_HASH,
            tuple(f"c{i}" for i in range(N)),
        )
        for j in range(MEMBERS)
    ]
    return inputs, kept


def _rounds(committee: LocalCommittee, root: Path, outsider: str) -> dict[str, Any]:
    member_keys = [X25519PrivateKey.generate() for _ in range(MEMBERS)]
    times: dict[str, Any] = {}
    for round_id in ROUND_SEEDS:
        inputs, kept = sealed_round(round_id, member_keys)
        spec = RoundSpec(
            round_id=round_id,
            dim=DIM,
            weights=(1.0,) * N,
            public_offset=np.zeros(DIM),
            clip_norm=1.0,
        )
        started = time.time()
        outcome: RoundOutcome = committee.run_round(spec, inputs)
        times[str(round_id)] = [started, time.time()]
        assert outcome.accepted == (True,) * N and outcome.params is not None
        np.savez(root / f"kept-{round_id}.npz", published=outcome.params, **kept)
        envelopes = {k: v for k, v in kept.items() if k.startswith("envelope_")}
        leak(
            outsider,
            {"who": "launcher", "round": round_id},
            {"published": outcome.params, **envelopes},
        )
    return times


@contextmanager
def _processes() -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        yield procs
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
            proc.wait(timeout=20)


def run_wired_rounds(root: Path) -> None:
    """Everything the wire tests read, under ``root`` (see the module docstring)."""
    port = free_port()
    outsider = f"127.0.0.1:{port}"
    with _processes() as procs, pytest.MonkeyPatch.context() as patch:
        start(
            root,
            procs,
            "leak_outsider",
            "--port",
            str(port),
            "--out",
            str(root),
            "--dim",
            str(DIM),
            "--victim",
            str(VICTIM),
        )
        patch.setenv(VIEW_DIR_ENV, str(root))
        patch.setenv(LEAKERS_ENV, ",".join(str(r) for r in range(MEMBERS)))
        patch.setenv(OUTSIDER_ENV, outsider)
        patch.setattr(local_committee, "party_main", wire_party_main)
        settings = SessionSettings(protocol="beaver", provider="TTP", timeout_s=60)
        with WiredCommittee(root, procs, settings=settings) as committee:
            wait_file(root / "outsider-ready", procs, 60)  # started while the parties did
            wait_dealer_set_up(root, procs, 60)
            times = _rounds(committee, root, outsider)
        leak(outsider, {"who": "end"}, {})
        procs["leak_outsider"].wait(timeout=60)
        wait_file(root / "outsider-done", procs, 5)
        (root / "rounds.json").write_text(json.dumps(times))
