"""A small model snapshot and API secret for the PeerTube plugin's tests (``node --test``).

``python -m tests.peertube_plugin_fixture DIR`` writes ``DIR/snapshot.npz`` (what
``mpcrec serve --snapshot`` serves), ``DIR/api.secret`` (mode 0600) and
``DIR/fixture.json``: the videos (id, uuid, url, title, remote) and users the plugin's
harness plays PeerTube with, so the JavaScript tests know what the node knows.

The catalogue has :data:`N_VIDEOS` videos on two instances; users 1 to 3 have embeddings
and have seen a few videos, user 4 is a local user without one (popular fallback). The
expected lists are the node's top :data:`TOP`, before PeerTube's own filtering.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import numpy as np

from mpcrec.files import write_atomic
from mpcrec.node.recommender import ModelSnapshot

N_VIDEOS = 40
DIM = 6
TOP = 20


def video_uuid(i: int) -> str:
    """The UUID of video ``i``."""
    return f"6d3b1f1e-0000-4000-8000-{i:012d}"


def write_fixture(out: Path, seed: int = 0) -> dict[str, object]:
    """Write the snapshot, the secret and the manifest into ``out``; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    hosts = ("tube.example", "other.example")
    urls = [f"https://{hosts[i % 2]}/videos/watch/{video_uuid(i)}" for i in range(N_VIDEOS)]
    seen = {1: urls[:3], 2: urls[10:14], 3: [], 4: urls[20:22]}
    snapshot = ModelSnapshot.build(
        version="plugin-fixture",
        item_urls=urls,
        item_uuids=[video_uuid(i) for i in range(N_VIDEOS)],
        item_embeddings=rng.normal(size=(N_VIDEOS, DIM)),
        user_embeddings={u: rng.normal(size=DIM) for u in (1, 2, 3)},
        popularity=rng.random(N_VIDEOS),
        local_users=(1, 2, 3, 4),
        seen=seen,
    )
    snapshot.save(out / "snapshot.npz")
    secret = out / "api.secret"
    write_atomic(secret, (secrets.token_urlsafe(32) + "\n").encode())  # mode 0600
    manifest: dict[str, object] = {
        "snapshot": str(out / "snapshot.npz"),
        "secretFile": str(secret),
        "secret": secret.read_text().strip(),
        "users": [1, 2, 3, 4],
        "videos": [
            {
                "id": 1000 + i,
                "uuid": video_uuid(i),
                "url": urls[i],
                "name": f"Video {i}",
                "remote": i % 2 == 1,
            }
            for i in range(N_VIDEOS)
        ],
        "expected": {
            "personal": {
                str(u): [v.uuid for v in snapshot.recommend(u, TOP).videos] for u in (1, 2, 3, 4)
            },
            "related": {
                str(i): [v.uuid for v in snapshot.related(video_uuid(i), TOP).videos]
                for i in (0, 5)
            },
            "relatedFor": {
                f"{i}:{u}": [v.uuid for v in snapshot.related(video_uuid(i), TOP, u).videos]
                for i in (0, 5)
                for u in (1, 2)
            },
        },
    }
    write_atomic(out / "fixture.json", json.dumps(manifest, indent=1).encode())
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.peertube_plugin_fixture DIR")
    write_fixture(Path(sys.argv[1]))
