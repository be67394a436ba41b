"""A model that grows in real rounds: the launcher and the nodes as processes, the
instances publishing (and deleting) videos between rounds; the next published model has
the new rows, the retired row never moves again, and the audit verifies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from launch.sqlite_store import SQLiteStore
from mpcrec.data.catalogue_index import CatalogueIndex
from tests.system.federation import Federation, published
from tests.system.test_federation import _audit_verifies

NODES = [f"tube-{i}" for i in range(4)]
#: ``n_items`` at most the first catalogue version's rows (one instance's 2 videos may be the
#: only export merged when round 1 opens): more would be rows without provenance.
MODEL: dict[str, Any] = {"n_items": 2, "dim": 3, "aggregation": "plaintext", "clip_norm": 100.0}
RULES = {
    "committee_size": 3,
    "min_contributors": 3,
    "cooldown": 1,
    "commit_s": 3,
    "reveal_s": 3,
    "collect_s": 6,
    "compute_s": 10,
}


def _videos(fed: Federation, name: str, ks: range) -> None:
    path = fed.root / "nodes" / name / "videos.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"https://{name}/videos/watch/{k}\n" for k in ks))


def _start_node(fed: Federation, name: str) -> None:
    log = open(fed.root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
    fed.procs[name] = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.system.growing_node",
            "--config",
            str(fed.root / f"{name}.yaml"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=fed.root,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())},
        start_new_session=True,
    )


def _models(fed: Federation) -> list[np.ndarray]:
    store = SQLiteStore(fed.db)
    try:
        latest = store.latest_model()
        assert latest is not None
        found = [store.get_model(v) for v in range(latest.version + 1)]
        return [m.array() for m in found if m is not None]
    finally:
        store.close()


@pytest.mark.slow
@pytest.mark.xdist_group("growing-model")
@pytest.mark.timeout(300)
def test_the_catalogue_gains_rows_between_rounds_and_the_next_model_has_them(
    tmp_path: Path,
) -> None:
    with Federation(tmp_path, NODES) as fed:
        # Prepare: a 2-row model; each instance publishes two videos (8 rows once merged)
        fed.write(model=MODEL, rounds=RULES, schedule={"rounds": 6, "min_instances": 4})
        for name in NODES:
            _videos(fed, name, range(2))
        fed.start("launcher")
        for name in NODES:
            _start_node(fed, name)
        # Execute: after the first publish, tube-0 publishes two videos, tube-1 deletes one
        fed.wait_for(lambda rs: len(published(rs)) >= 1, 150, "the first model")
        _videos(fed, "tube-0", range(4))
        _videos(fed, "tube-1", range(1, 2))
        fed.wait_for(lambda rs: len(published(rs)) >= 6, 200, "six published models")
        models = _models(fed)
        # Assert: every model has its round's catalogue rows: 2 (the spec's), up to 8 as the
        # exports are merged, then 10 (the round after the new videos)
        rows = [m.shape[0] for m in models]
        assert rows[0] == 2 and 8 in rows and rows[-1] == 10, rows
        assert rows == sorted(rows)  # rows are only appended
        grown = rows.index(10)
        assert np.abs(models[grown][8:]).min() > 0  # the new rows trained in the round
        # tube-1's video 0 is retired (its row: the merges' order; both exports are sent
        # in the round after the change, merged when the next opens): it no longer moves
        index = CatalogueIndex.load(fed.root / "launcher" / "catalogue")
        (row,) = np.flatnonzero(index.retired)
        assert index.url(int(row)) == "https://tube-1/videos/watch/0"
        assert models[-1][row].tobytes() == models[-2][row].tobytes()
        live = next(k for k in range(10) if k != row)
        assert models[-1][live].tobytes() != models[-2][live].tobytes()  # a live row does
        assert not any((tmp_path / "nodes" / n / "refusals.jsonl").exists() for n in NODES)
        _audit_verifies(tmp_path)  # every round's rows trace to a signed catalogue version
