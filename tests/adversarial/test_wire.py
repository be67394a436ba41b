"""A member that leaks its view, the dealer, and the network: each attacker a real process.

One committee run (``wire_committee.py``): a Beaver committee of three with a TTP dealer,
each party its own process recording every frame it sends and receives (``wire_view.py``),
two rounds on sealed envelopes of ``N = 3`` contributions of length ``D = 1000``; every
member hands its whole view of each round to an outside process (``leak_outsider.py``);
every link of the session runs through a recording TCP proxy process (``wire_proxy.py``);
a stranger process knocks at member 0 first (``stranger.py``).

The statistic is ``test_coalition.py``'s: the Pearson correlation of a vector of the view
(ring values as signed 64-bit integers) with the victim's encoded update, bound
``5/sqrt(D)`` (false-positive rate at most ``m · 2Φ(-5) ≈ m · 5.7e-7`` over ``m``
vectors, ``m`` printed in the assertion). The published sum is public and correlates with
every contribution (about ``1/sqrt(N)``), so where the view includes it the correlation is
partial on it: both vectors' components along ``1`` and the published sum are removed
first (a vector the published sum explains entirely is listed as public, not tested).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.adversarial.harness import RULES, SCHEDULE, SECURE_MODEL
from tests.adversarial.wire_committee import (
    DIM,
    MEMBERS,
    VICTIM,
    N,
    run_wired_rounds,
    start,
    stranger_certificates,
    wait_file,
)
from tests.adversarial.wire_view import read_arrays, read_frames
from tests.system.federation import Federation

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

BOUND = 5.0 / np.sqrt(DIM)
DEALER = MEMBERS  # the dealer's rank


@pytest.fixture(scope="module")
def wired(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wire")
    run_wired_rounds(root)
    return root


def partial_correlation(view: np.ndarray, truth: np.ndarray, public: np.ndarray) -> float | None:
    """Pearson correlation of ``view`` and ``truth`` once both are rid of their components
    along ``1`` and ``public``; ``None`` if ``public`` explains ``view`` entirely."""
    basis = np.column_stack([np.ones(view.size), public.astype(np.float64)])

    def residual(v: np.ndarray) -> np.ndarray:
        v = v.astype(np.float64)
        return np.asarray(v - basis @ np.linalg.lstsq(basis, v, rcond=None)[0])

    a, b = residual(view), residual(truth)
    if np.linalg.norm(a) <= 1e-9 * np.linalg.norm(view.astype(np.float64) - view.mean()):
        return None
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def _kept(root: Path, round_id: int) -> dict[str, np.ndarray]:
    return dict(np.load(root / f"kept-{round_id}.npz"))


def _truth(kept: dict[str, np.ndarray], i: int) -> np.ndarray:
    """Contribution ``i``'s encoded update: its shares summed in the ring."""
    return np.asarray(
        np.sum([kept[f"share_{i}_{j}"] for j in range(MEMBERS)], axis=0, dtype=np.int64)
    )


def _round_windows(root: Path) -> dict[int, tuple[float, float]]:
    times = json.loads((root / "rounds.json").read_text())
    return {int(r): (t[0], t[1]) for r, t in times.items()}


@pytest.mark.timeout(300)
def test_a_member_that_leaks_its_view_to_an_outsider_reveals_nothing_with_the_launchers(
    wired: Path,
) -> None:
    # Prepare: what the outsider pooled in round 1 (member 0's view, the launcher's holdings)
    pooled = dict(np.load(wired / "pooled-1.npz"))
    truth = _truth(_kept(wired, 1), VICTIM)
    public = pooled.pop("published")
    held = json.loads((wired / "views-1.json").read_text())
    # Execute: the statistic over the leaked view, and over every member's (the control)
    found = {k: partial_correlation(v, truth, public) for k, v in pooled.items()}
    leaked = {k: r for k, r in found.items() if k.startswith("leak/")}
    tested = {k: r for k, r in leaked.items() if r is not None}
    # Assert: the outsider held member 0's share, the dealer's words, the openings, the
    # envelopes ...
    assert f"leak/share_{VICTIM}" in tested, sorted(found)
    dealers_words = [n for n in held["0"] if n.startswith("recv_") and f"_peer_{DEALER}_" in n]
    assert dealers_words, held["0"]
    assert any("opening" in k for k in tested) and any("envelope" in k for k in tested)
    high = {k: r for k, r in tested.items() if abs(r) > BOUND}
    assert not high, f"|r| > {BOUND:.3f} over m = {len(tested)}: {high}"
    # (what the published sum explains entirely: itself and the reveal, a (D,) opening)
    public_ones = [k for k, r in leaked.items() if r is None]
    assert "leak/launcher published sum" in public_ones, public_ones
    assert all(
        k == "leak/launcher published sum" or k.startswith("leak/opening_") for k in public_ones
    ), public_ones
    # ... and the same statistic over all three members' shares reads the update
    control = found["all/the shares' sum in the ring"]
    assert control is not None and control > 1 - 1e-9, found


def _dealer_frames(root: Path) -> dict[int, list[dict[str, Any]]]:
    frames = read_frames(root / f"frames-{DEALER}.bin")
    received = [f for f in frames if not f["sent"]]
    return {
        r: [f for f in received if begin <= f["t"] <= end]
        for r, (begin, end) in _round_windows(root).items()
    }


def _arrays_in(frame: dict[str, Any]) -> list[np.ndarray]:
    """Every array of ring values a frame carries: its bytes (a tensor frame), or each
    tensor or array inside the object it pickles (an object frame, such as a request)."""
    if frame["kind"] != 2:
        data = frame["data"]
        return [np.frombuffer(data, dtype="<i8")] if data and len(data) % 8 == 0 else []
    found: list[np.ndarray] = []
    pending = [pickle.loads(frame["data"])]
    while pending:
        obj = pending.pop()
        if isinstance(obj, dict):
            pending.extend(obj.values())
        elif isinstance(obj, list | tuple):
            pending.extend(obj)
        elif hasattr(obj, "numpy") and hasattr(obj, "dtype"):  # a torch tensor
            found.append(np.asarray(obj.numpy(), dtype=np.int64).reshape(-1))
        elif isinstance(obj, np.ndarray):
            found.append(obj.astype(np.int64).reshape(-1))
    return found


def _describe(frame: dict[str, Any]) -> str:
    data = frame["data"]
    if frame["kind"] == 2:
        obj = pickle.loads(data)
        what = obj if not isinstance(obj, dict) else {k: obj[k] for k in ("function", "args")}
        if isinstance(obj, dict) and obj.get("kwargs"):
            what["kwargs"] = sorted(obj["kwargs"])
        return f"object from {frame['peer']}: {what}"
    return f"{len(data)} bytes from {frame['peer']}"


@pytest.mark.timeout(300)
def test_the_dealer_receives_nothing_that_depends_on_the_inputs(wired: Path) -> None:
    # Prepare: every frame the dealer process received, by round; its masks; member 0's openings
    by_round = _dealer_frames(wired)
    windows = _round_windows(wired)
    masks = read_arrays(wired / "dealer-masks.bin")
    openings = read_arrays(wired / "openings-0.bin")
    everything = [f for f in read_frames(wired / f"frames-{DEALER}.bin") if not f["sent"]]
    # Execute / Assert: what it receives is requests naming shapes, the same bytes in both
    # rounds on different inputs (and, at set-up and the end, barriers and "terminate")
    (first, second) = (by_round[r] for r in sorted(by_round))
    assert first, "the dealer received nothing during round 1: the recorder is broken"
    described = [_describe(f) for f in first]
    assert [(f["peer"], f["kind"], f["data"]) for f in first] == [
        (f["peer"], f["kind"], f["data"]) for f in second
    ], f"the dealer's view differs between two rounds on other inputs: {described}"
    assert {f["peer"] for f in everything} <= set(range(MEMBERS)), described
    # the statistic on whatever vectors of length D it holds: what it received, its own
    # masks, and their ring sums, against every contribution
    found: dict[str, float | None] = {}
    for round_id, (begin, end) in windows.items():
        kept = _kept(wired, round_id)
        mine = [m for t, m in masks if begin <= t <= end and m.shape == (N, DIM)]
        got = [a for f in by_round[round_id] for a in _arrays_in(f) if a.size in (DIM, N * DIM)]
        for i in range(N):
            truth = _truth(kept, i)
            public = kept["published"]
            vectors = {f"mask {a}": m[i] for a, m in enumerate(mine)}
            rows = [g.reshape(-1, DIM)[i if g.size == N * DIM else 0] for g in got]
            vectors |= {f"received {b}": g for b, g in enumerate(rows)}
            vectors |= {
                f"received {b} + mask {a}": g + m[i]
                for a, m in enumerate(mine)
                for b, g in enumerate(rows)
            }
            for name, v in vectors.items():
                found[f"round {round_id} contribution {i}: {name}"] = partial_correlation(
                    v, truth, public
                )
    tested = {k: r for k, r in found.items() if r is not None}
    assert len(tested) >= 2 * N, found  # at least its norm-check mask, each round
    high = {k: r for k, r in tested.items() if abs(r) > BOUND}
    assert not high, f"|r| > {BOUND:.3f} over m = {len(tested)}: {high}; received {described}"
    # Positive control: its mask with one member's opening x - r reads every contribution
    begin, end = windows[1]
    (mask,) = [m for t, m in masks if begin <= t <= end and m.shape == (N, DIM)]
    (eps,) = [o for t, o in openings if begin <= t <= end and o.shape == (N, DIM)]
    kept = _kept(wired, 1)
    for i in range(N):
        read = partial_correlation(eps[i] + mask[i], _truth(kept, i), kept["published"])
        assert read is not None and read > 1 - 1e-9, (i, read)


def _stream(root: Path) -> tuple[bytes, dict[str, int]]:
    flows = sorted((root / "proxy").glob("flow-*.bin"))
    sizes = {p.name: p.stat().st_size for p in flows}
    return b"\x00".join(p.read_bytes() for p in flows), sizes


def _windows_of(stream: bytes) -> np.ndarray:
    """Every 8-byte window of ``stream`` at every offset, as sorted ``uint64``."""
    raw = np.frombuffer(stream, dtype=np.uint8)
    if raw.size < 8:
        return np.empty(0, dtype=np.uint64)
    shifted = np.lib.stride_tricks.sliding_window_view(raw, 8)
    return np.sort(shifted.copy().view("<u8").reshape(-1))


def _count_in(words: np.ndarray, windows: np.ndarray) -> int:
    """How many of ``words`` are among the sorted ``windows``."""
    if not windows.size or not words.size:
        return 0
    at = np.minimum(np.searchsorted(windows, words), windows.size - 1)
    return int((windows[at] == words).sum())


def _secret_words(data: bytes) -> np.ndarray:
    """The 8-byte aligned words of ``data`` that are not small integers (secret-looking)."""
    words = np.frombuffer(data[: len(data) // 8 * 8], dtype="<i8")
    return words[np.abs(words.astype(np.float64)) >= 2.0**48].view("<u8")


def _secrets(root: Path) -> dict[str, list[np.ndarray]]:
    """What no network recorder may read: keys, shares, inputs (each as 8-byte words)."""
    found: dict[str, list[np.ndarray]] = {"keys": [], "shares on the links": [], "inputs": []}
    for rank in range(MEMBERS + 1):
        for frame in read_frames(root / f"frames-{rank}.bin"):
            if frame["kind"] != 1 or len(frame["data"]) < 32:
                continue
            kind = "keys" if len(frame["data"]) == 32 else "shares on the links"
            found[kind].append(_secret_words(frame["data"]))
    for round_id in _round_windows(root):
        kept = _kept(root, round_id)
        for name, value in kept.items():
            if name.startswith(("share_", "seed_")):
                found["inputs"].append(_secret_words(value.tobytes()))
        found["inputs"] += [_secret_words(_truth(kept, i).tobytes()) for i in range(N)]
    return found


@pytest.mark.timeout(300)
def test_a_recording_proxy_on_every_link_reads_no_key_share_or_input(wired: Path) -> None:
    # Prepare: every byte the proxy process relayed, and what the parties said in the clear
    stream, sizes = _stream(wired)
    secrets = _secrets(wired)
    sent = sum(
        len(f["data"])
        for rank in range(MEMBERS + 1)
        for f in read_frames(wired / f"frames-{rank}.bin")
        if f["sent"]
    )
    # Execute
    windows = _windows_of(stream)
    hits = {kind: sum(_count_in(w, windows) for w in words) for kind, words in secrets.items()}
    searched = {kind: int(sum(w.size for w in words)) for kind, words in secrets.items()}
    # Assert: every link of the session ran through it (4 ranks: 12 one-way links, each a
    # connection both ways) and it carried at least every byte the parties sent ...
    ups = [name for name in sizes if name.endswith("-up.bin")]
    assert len(ups) == (MEMBERS + 1) * MEMBERS, sorted(sizes)
    assert sum(sizes[n] for n in ups) >= sent > 100_000, (sizes, sent)
    assert all(searched[kind] > 0 for kind in searched), searched
    # ... and not one 8-byte word of any key, share or input is in it
    assert hits == {kind: 0 for kind in secrets}, f"found {hits} of {searched} words"


REFUSED = ("no-certificate", "other-ca", "expired")


def _refused(attempt: dict[str, Any]) -> bool:
    """Turned away in the handshake: not one byte of the application came back, and the
    connection ended in a TLS alert or an abrupt close (in TLS 1.3 the client's side of the
    handshake completes before the server has checked the client's certificate)."""
    return attempt["answer"] == "" and bool(attempt["error"])


@pytest.mark.timeout(300)
def test_a_stranger_is_refused_at_the_handshake_by_a_committee_party(wired: Path) -> None:
    tried = json.loads((wired / "stranger-party.json").read_text())
    for name in REFUSED:
        assert _refused(tried[name]), (name, tried)
    control = bytes.fromhex(tried["committee-ca"]["answer"])
    assert b"session 'stranger' is not" in control, tried  # past the handshake: the hello's


@pytest.mark.timeout(120)
def test_a_stranger_is_refused_at_the_handshake_by_the_launcher(tmp_path: Path) -> None:
    # Prepare: the real launcher process (no node needed) and a node's certificate
    with Federation(tmp_path, ["tube-0"]) as fed:
        fed.write(
            model=SECURE_MODEL,
            rounds=RULES,
            schedule={**SCHEDULE, "min_instances": 1},
            with_beacon=False,
        )
        attempts = stranger_certificates(tmp_path, tmp_path / "pki" / "ca", "tube-0")
        pki = tmp_path / "pki"
        control = f"federation-ca:{pki / 'tube-0.pem'}:{pki / 'tube-0.key'}"
        fed.start("launcher")
        # Execute: the stranger process knocks with each certificate, speaking HTTP/2 first
        out = tmp_path / "stranger-launcher.json"
        procs: dict[str, subprocess.Popen[bytes]] = {}
        start(
            tmp_path,
            procs,
            "stranger",
            "--target",
            fed.launcher_address,
            "--out",
            str(out),
            "--h2",
            *(f"--attempt={a}" for a in [*attempts[:3], control]),
        )
        try:
            wait_file(out, {**procs, **fed.procs}, 90)
            procs["stranger"].wait(timeout=10)
        finally:
            if procs["stranger"].poll() is None:
                os.killpg(procs["stranger"].pid, signal.SIGKILL)
        tried = json.loads(out.read_text())
    # Assert: refused at the handshake (an alert, no HTTP/2 byte back) but for the CA's own
    for name in REFUSED:
        assert _refused(tried[name]), (name, tried)
    settings = bytes.fromhex(tried["federation-ca"]["answer"])
    assert len(settings) >= 9 and settings[3] == 0x04, tried  # the server's SETTINGS frame
