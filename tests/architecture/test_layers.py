"""The layer rule of docs/architecture.md, checked on the import graph (function-level
imports included): no module imports itself through others, and imports point down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

from tests.architecture.import_cycles import ROOTS, import_cycles

REPO = Path(__file__).resolve().parents[2]


def test_no_module_imports_itself_through_others() -> None:
    # Prepare
    graph = grimp.build_graph(*ROOTS)
    # Execute
    cycles = import_cycles(graph)
    # Assert
    assert cycles == [], f"import cycles: {cycles}"


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path, monkeypatch: object) -> None:
    # Prepare: a package whose two modules import each other, inside a function as well
    pkg = tmp_path / "circle"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circle import b\n")
    (pkg / "b.py").write_text("def f():\n    from circle import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        # Execute
        cycles = import_cycles(grimp.build_graph("circle", cache_dir=None))
    finally:
        sys.path.remove(str(tmp_path))
    # Assert
    assert cycles == [["circle.a", "circle.b"]]


def test_imports_point_down_the_layers() -> None:
    # Execute: the contract in pyproject.toml ([tool.importlinter])
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Assert
    assert done.returncode == 0, done.stdout + done.stderr
