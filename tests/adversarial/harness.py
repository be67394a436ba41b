"""A federation whose launcher is hostile: real node processes over mutual TLS
(:class:`tests.system.federation.Federation`), the launcher started as
:mod:`tests.adversarial.hostile_launcher` with one attack, and what the tests read back:
what the launcher learned, each node's refusals, the store, the auditor's findings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from launch.round import Round
from launch.sqlite_store import SQLiteStore
from mpcrec.model.server import clip_to_norm
from mpcrec.node.round_refusal import REFUSALS_FILE
from mpcrec.node.trainer import drift_target
from tests.system.federation import Federation

REPO = Path(__file__).resolve().parents[2]

#: The launcher's ``model:`` section of every attack test: secure aggregation with the wrap
#: guard (B = 16 C) and no noise, so a published model can be compared exactly with its
#: plaintext twin. If the node-side privacy floor's defaults (issue 11) demand noise, the
#: control round (round 1, left honest) will not publish and the test says so: then give
#: the nodes the floor's named opt-out in ``NODE_EXTRA`` (never weaken an assertion).
SECURE_MODEL: dict[str, Any] = {
    "n_items": 12,
    "dim": 4,
    "aggregation": "secure",
    "server_lr": 1.0,
    "server_momentum": 0.0,
    "clip_norm": 10.0,
    "range_bound": 160.0,
}
RULES: dict[str, Any] = {
    "committee_size": 3,
    "min_contributors": 3,
    "cooldown": 1,
    "commit_s": 3,  # the draw waits for the beacon round due after both windows
    "reveal_s": 3,
    "collect_s": 6,
    "compute_s": 40,
}
SCHEDULE: dict[str, Any] = {"rounds": 0, "retry_s": 0.3}
#: Extra ``node.yaml`` settings of every honest node (see :data:`SECURE_MODEL`). The seat is
#: kept warm (the party process starts at registration and serves every round): the attacks
#: are on what a party is handed, not on when it starts, and a cold start inside each round
#: cost every test some 6-9 s a round and put CrypTen's import inside ``compute_s`` (session
#: 6's flake). A party started at the draw is the system tests' (tests/system/test_federation.py).
NODE_EXTRA: dict[str, Any] = {"mpc_timeout_s": 20.0, "committee": {"warm_seat": True}}


class HostileFederation(Federation):
    """:class:`Federation` with the hostile launcher and readers for the tests."""

    def __enter__(self) -> HostileFederation:
        return self

    @property
    def learned_path(self) -> Path:
        return self.root / "learned.json"

    def setup(self, *, model: dict[str, Any] | None = None, **overrides: Any) -> None:
        """Write every file: :data:`SECURE_MODEL`, :data:`RULES`, :data:`SCHEDULE`."""
        extra = {name: dict(NODE_EXTRA) for name in self.nodes}
        for name, more in overrides.pop("node_extra", {}).items():
            extra.setdefault(name, {}).update(more)
        self.write(
            model=model or SECURE_MODEL,
            rounds={**RULES, **overrides.pop("rounds", {})},
            schedule={
                **SCHEDULE,
                "min_instances": len(self.nodes),
                **overrides.pop("schedule", {}),
            },
            node_extra=extra,
            privacy=overrides.pop("privacy", None),
        )
        assert not overrides, f"unknown settings {overrides}"

    def env(self) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
        return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}

    def start_module(self, name: str, module: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``python -m module args`` as the process ``name`` (log in ``name.log``)."""
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            env=self.env(),
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_hostile(
        self,
        attack: str,
        *,
        victim: str,
        colluders: tuple[str, ...] = (),
        from_round: int = 2,
        exit_when_done: bool = False,
    ) -> None:
        """The real launcher with ``attack`` installed, as the process ``launcher``."""
        done = ["--exit-when-done"] if exit_when_done else []
        self.start_module(
            "launcher",
            "tests.adversarial.hostile_launcher",
            "--config",
            str(self.root / "federation.yaml"),
            "--attack",
            attack,
            "--out",
            str(self.learned_path),
            "--victim",
            victim,
            "--colluders",
            ",".join(colluders),
            "--from-round",
            str(from_round),
            *done,
        )

    def start_nodes(self, names: list[str] | None = None) -> None:
        for name in names or self.nodes:
            self.start(name)

    # -- what the tests read --------------------------------------------------------------

    def learned(self) -> dict[str, Any]:
        """What the hostile launcher recorded (``{}`` before it started)."""
        if not self.learned_path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.learned_path.read_text())
        return data

    def refusals(self, name: str) -> list[dict[str, Any]]:
        path = self.root / "nodes" / name / REFUSALS_FILE
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def all_refusals(self) -> dict[str, list[dict[str, Any]]]:
        return {name: self.refusals(name) for name in self.nodes}

    def refused(self, rules: set[str], *, rounds: set[int] | None = None) -> list[dict[str, Any]]:
        """Every refusal (any node) with one of ``rules`` (in ``rounds``, if given)."""
        return [
            {**line, "node": name}
            for name, lines in self.all_refusals().items()
            for line in lines
            if line.get("rule") in rules and (rounds is None or line.get("round") in rounds)
        ]

    def logs_mention(self, words: set[str]) -> list[str]:
        """The nodes whose log names one of ``words``."""
        return [n for n in self.nodes if any(w in self.log_text(n) for w in words)]

    def log_text(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_until(self, what: Callable[[], bool], timeout: float, why: str) -> None:
        """Poll ``what`` until true; fail on timeout or when the launcher exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what():
                return
            launcher = self.procs.get("launcher")
            if launcher is not None and launcher.poll() is not None:
                raise AssertionError(f"the launcher exited: {self.log('launcher')}")
            time.sleep(0.25)
        states = [(r.round_id, r.phase.value, r.reason) for r in self.rounds()]
        raise AssertionError(
            f"timed out waiting for {why}; rounds: {states}; "
            f"learned: {self.learned()}; refusals: {self.all_refusals()}\n{self.log('launcher')}"
        )

    def control_round(self) -> int | None:
        """The first published round (every attack leaves the rounds up to it honest)."""
        done = [r.round_id for r in self.rounds() if r.phase.value == "published"]
        return min(done) if done else None

    def wait_control_round(self, timeout: float = 90.0) -> int:
        """An honest round must publish first: the configuration works."""
        self.wait_until(
            lambda: self.control_round() is not None,
            timeout,
            "an honest control round to publish (if the nodes refused it, the privacy "
            "floor's defaults need an opt-out in tests/adversarial/harness.py NODE_EXTRA)",
        )
        control = self.control_round()
        assert control is not None
        return control

    def attacked_rounds_ended(self, after: int = 0) -> int:
        """How many rounds after the control round (and after round ``after``) have ended."""
        control = self.control_round()
        if control is None:
            return 0
        first = max(control, after)
        return sum(1 for r in self.rounds() if r.round_id > first and r.phase.terminal)

    def store(self) -> SQLiteStore:
        return SQLiteStore(self.db)

    def audit(self, *, evidence: bool = False, log: Path | None = None) -> dict[str, Any]:
        """Export the launcher's log (or take ``log``, a history exported already) and run
        ``mpcrec audit verify --format json`` with the tree heads every node kept (and, with
        ``evidence``, the heads of every node's ``fork_evidence.jsonl``); the JSON report
        (findings: rule, entry, message), its ``exit_code`` added."""
        cli = [sys.executable, "-m", "mpcrec.cli.app", "audit"]
        if log is None:
            log = self.root / "audit.jsonl"
            subprocess.run(
                [*cli, "export", "--state-dir", str(self.root / "launcher"), "--out", str(log)],
                check=True,
                capture_output=True,
                timeout=60,
                env=self.env(),
            )
        heads = sorted(self.root.glob("nodes/*/tree_heads.jsonl"))
        heads += sorted(self.root.glob("nodes/*/fork_evidence.jsonl")) if evidence else []
        done = subprocess.run(
            [*cli, "verify", str(log), "--workers", "1", "--format", "json"]
            + [arg for path in heads for arg in ("--heads", str(path))],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env(),
        )
        assert done.stdout.strip(), f"audit verify printed nothing: {done.stderr[-2000:]}"
        report: dict[str, Any] = json.loads(done.stdout)
        report["exit_code"] = done.returncode
        return report

    def entry_rounds(self) -> dict[int, int | None]:
        """Log index -> round of every entry in the export :meth:`audit` wrote."""
        found: dict[int, int | None] = {}
        for line in (self.root / "audit.jsonl").read_text().splitlines():
            data = json.loads(line)
            if "index" in data:
                found[data["index"]] = data.get("round")
        return found


def findings_in(report: dict[str, Any], rules: set[str]) -> list[dict[str, Any]]:
    """The report's findings that name one of ``rules``."""
    return [f for f in report.get("findings", []) if f.get("rule") in rules]


def drift_update(instance_id: str, base: np.ndarray, clip_norm: float) -> np.ndarray:
    """What an honest drift node uploads from ``base`` (rate 0.5, clipped as the daemon does)."""
    delta = 0.5 * (drift_target(instance_id, (base.shape[0], base.shape[1])) - base)
    return clip_to_norm(delta, 0.999 * clip_norm).reshape(base.shape)


def honest_twin(store: SQLiteStore, rnd: Round, clip_norm: float) -> np.ndarray:
    """The model round ``rnd`` publishes with honest weights (equal; momentum 0, lr 1)."""
    base = store.get_model(rnd.model_version)
    assert base is not None
    model = base.array()
    deltas = [drift_update(c, model, clip_norm) for c in rnd.contributors]
    twin: np.ndarray = model + np.mean(deltas, axis=0)
    return twin
