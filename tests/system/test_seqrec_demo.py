"""``mpcrec demo --model seqrec`` small and secure, real processes: the co-view Gram released
first (two slices' secure rounds: the released Gram is the plaintext sum of the instances'
Grams exactly, the model through them the initial one, every node's EASE ``B`` the one
solved from that sum), rounds of the order-aware model published, the audit verifying, and
the recommendation API (``mpcrec serve``, its own process) answering a related-videos
request from the node's snapshot of the model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from launch.sqlite_store import SQLiteStore
from mpcrec.data.movielens import load_movielens_100k
from mpcrec.federation.gram_slice import slice_counts
from mpcrec.model.item_gram import EaseConfig, ease_weights, from_triangle
from mpcrec.model.tuned_sequence import SEQ_RUNTIME
from mpcrec.node.seqrec_trainer import SeqrecTrainer, item_uuids, to_model
from tests.net import free_port

SECRET = "s3cret-" + "y" * 40
SLICE_VALUES = 707_702


def _demo(state: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mpcrec.cli.app", "demo", "--model", "seqrec", "--no-dp"]
    cmd += ["--instances", "4", "--rounds", "2", "--cooldown", "1", "--no-baselines"]
    cmd += ["--ease-slice-values", str(SLICE_VALUES)]  # 2 slices of the 1,682-video triangle
    cmd += ["--format", "json", "--state-dir", str(state), "--timeout", "400"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=430)


def _related(snapshot: Path, video: str, secret_file: Path) -> dict[str, object]:
    port = free_port()
    cmd = [sys.executable, "-m", "mpcrec.cli.app", "serve", "--snapshot", str(snapshot)]
    cmd += ["--secret-file", str(secret_file), "--port", str(port), "--watch-seconds", "0"]
    serve = subprocess.Popen(cmd, start_new_session=True)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {SECRET}"}
        ) as client:
            for _ in range(120):
                try:
                    answer = client.get(
                        "/api/v1/recommendations/videos", params={"videoId": video, "count": 5}
                    )
                    return dict(answer.json())
                except httpx.TransportError:
                    time.sleep(0.5)
        raise AssertionError("mpcrec serve did not answer")
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=20)


@pytest.mark.slow
@pytest.mark.xdist_group("federation")
@pytest.mark.timeout(480)
def test_secure_seqrec_rounds_publish_verify_and_serve_related_videos(tmp_path: Path) -> None:
    state = tmp_path / "state"

    done = _demo(state)

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((state / "demo.json").read_text())
    assert report["model"] == "seqrec" and report["aggregation"] == "secure"
    assert report["rounds_published"] == 2 + 2 and report["audit_ok"], report["audit_findings"]
    assert report["upload_bytes_per_instance"] > 8 * 1682 * 64  # the whole (E, V), shared
    config = (state / "audit.jsonl").read_text()
    assert '"model": "seqrec"' in config or '"model":"seqrec"' in config
    store = SQLiteStore(state / "launcher" / "launcher.sqlite")
    try:
        published = store.latest_model()
    finally:
        store.close()
    assert published is not None and published.array().shape == (1682, 2 * SEQ_RUNTIME.dim)
    _check_gram_release(state)
    snapshot = state / "nodes" / "ml-00" / "snapshot.npz"
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    secret_file.chmod(0o600)
    uuids = item_uuids(load_movielens_100k().item_ids)

    body = _related(snapshot, uuids[49], secret_file)

    version = int(str(body["modelVersion"]).lstrip("v"))
    store = SQLiteStore(state / "launcher" / "launcher.sqlite")
    try:
        served = store.get_model(version)
    finally:
        store.close()
    assert served is not None
    scores = to_model(served.array(), SEQ_RUNTIME).related(np.array([49]))[0]
    scores[49] = -np.inf
    assert [v["uuid"] for v in body["data"]] == [uuids[i] for i in np.argsort(-scores)[:5]]


def _check_gram_release(state: Path) -> None:
    """Versions 1-2 carry the released slices: their Gram is the instances' summed Grams
    exactly, the model is the initial one, and node ml-00 serves ``B`` solved from it."""
    store = SQLiteStore(state / "launcher" / "launcher.sqlite")
    try:
        models = [store.get_model(v) for v in range(4)]
    finally:
        store.close()
    assert all(m is not None for m in models)
    v0, v1, v2, v3 = (m for m in models if m is not None)
    assert v1.data == v2.data == v0.data and v3.data != v0.data  # training starts at v2
    assert not v0.gram_slice and not v3.gram_slice
    released = from_triangle(
        np.concatenate([slice_counts(v1.gram_slice), slice_counts(v2.gram_slice)]), 1682
    )
    homes = [SeqrecTrainer.movielens(k, 4, 0, 2).gram_counts() for k in range(4)]
    assert np.array_equal(released, from_triangle(np.sum(homes, axis=0), 1682))
    served = np.load(state / "nodes" / "ml-00" / "snapshot.npz")["x_seqrec_ease_weights"]
    solved = ease_weights(released.astype(np.float64), EaseConfig().lam).astype(np.float32)
    np.testing.assert_allclose(served, solved, rtol=0, atol=1e-6)
