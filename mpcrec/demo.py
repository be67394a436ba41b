"""``mpcrec demo``: a whole federation on this machine, on MovieLens-100k, then its report.

1. Certificates (a local CA, one certificate per process), configs, and the initial model
   (drawn as central training draws it) in ``STATE_DIR``.
2. The launcher and ``N`` node processes, real gRPC with mutual TLS; committees of 3
   (replicated CrypTen) drawn and rotated every round; ``R`` published rounds.
3. The live view (or JSON events) follows the launcher's event stream.
4. Quality on the test items (HR@10, NDCG@10 ...) of the federated model, next to central
   MF and PeerTube's related-videos logic today; cost (seconds per round, bytes uploaded per
   instance and round); JSON with every number and each published round's committee.
5. The audit: the launcher's signed log exported to ``STATE_DIR/audit.jsonl`` and verified
   (:func:`audit_verdict`, the same verification as ``mpcrec audit verify``, with the tree
   heads every node kept), its verdict and the privacy spent in the report.
"""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from launch.sqlite_store import SQLiteStore
from launch.view import JsonEvents, RoundTable
from mpcrec import demo_catalogue, demo_dpals, demo_privacy, demo_seqrec
from mpcrec.audit.log import AuditLog
from mpcrec.audit.report import RULES
from mpcrec.audit.verify import verify_file
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.errors import UserError
from mpcrec.federation.published_model import PublishedModel
from mpcrec.local_beacon import HOST, free_loopback_port, start_local_beacon


@dataclass(frozen=True)
class DemoSettings:
    """What the demo runs."""

    state_dir: Path
    instances: int = 20
    rounds: int = 200
    aggregation: str = "secure"
    committee_size: int = 3
    cooldown: int = 3
    seed: int = 0
    timeout_s: float = 3600.0
    baselines: bool = True
    json_events: bool = False
    dp: bool = True  # user-level DP (mpcrec.demo_privacy); False: --no-dp
    users: int = 943  # W, the users of the whole federation (ML-100k)
    model: str = "dpals"  # "dpals" (mpcrec.demo_dpals), "mf" (DP-FedAvg), "seqrec" (demo_seqrec)
    new_videos: bool = False  # instances publish videos between rounds (mpcrec.demo_catalogue)
    publish_from: int = 0  # --new-videos: models trained before the first batch is published
    ease_slice_values: int = 450_000  # seqrec --no-dp: the Gram release's slice size


@dataclass
class DemoRun:
    """The files and processes of one demo federation."""

    settings: DemoSettings
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [f"ml-{k:02d}" for k in range(self.settings.instances)]

    @property
    def db(self) -> Path:
        return self.settings.state_dir / "launcher" / "launcher.sqlite"

    # -- setting up -----------------------------------------------------------------------

    def prepare(self, initial_items: np.ndarray) -> None:
        """Certificates, configs and the initial model."""
        root = self.settings.state_dir
        self._certificates()
        initial_items = demo_catalogue.initial_model(self, initial_items)  # its rows' order
        launcher_at = f"{HOST}:{free_loopback_port()}"
        n_items, dim = initial_items.shape
        (root / "logs").mkdir(parents=True, exist_ok=True)
        self.procs["beacon"], beacon = start_local_beacon(
            root / "beacon", root / "logs" / "beacon.log"
        )
        config = {**self._federation(launcher_at, n_items, dim), "beacon": beacon}
        nodes = [self._node(k, name, launcher_at) for k, name in enumerate(self.names)]
        if self.settings.model == "seqrec":
            config["model"] = demo_seqrec.federation_model(config["model"], dp=self.settings.dp)
            config = demo_seqrec.gram_release(config, self.settings, n_items)  # without DP
            nodes = [{**n, "trainer": demo_seqrec.node_trainer(n["trainer"])} for n in nodes]
        _dump(root / "federation.yaml", config)
        for name, node in zip(self.names, nodes, strict=True):
            _dump(root / "nodes" / f"{name}.yaml", node)
        store = SQLiteStore(self.db)
        try:
            if store.latest_model() is None:
                store.put_model(PublishedModel.from_array(0, initial_items))
        finally:
            store.close()

    def _certificates(self) -> None:
        """A local CA and one certificate per process, unless a previous run made them."""
        pki = self.settings.state_dir / "pki"
        if not (pki / "ca" / "ca.pem").exists():
            create_ca(pki / "ca")
        for name in ["launcher", *self.names]:
            if not (pki / f"{name}.pem").exists():
                issue_certificate(pki / "ca", pki, instance_id=name, hosts=[HOST, "localhost"])

    def _federation(self, launcher_at: str, n_items: int, dim: int) -> dict[str, Any]:
        """The launcher's ``federation.yaml``."""
        s = self.settings
        config = {
            "listen": launcher_at,
            "state_dir": "launcher",
            "tls": tls("launcher"),
            "model": {
                "n_items": n_items,
                "dim": dim,
                "aggregation": s.aggregation,
                **demo_privacy.model_settings(dp=s.dp, instances=s.instances, users=s.users),
                # the wrap guard (range_bound 16 * clip_norm by default) needs
                # dim * (B * 2**16)**2 < 2**63: B < 199 at 1682 x 32, so C = 12
                "clip_norm": 12.0,
            },
            "rounds": {
                "committee_size": s.committee_size,
                "min_contributors": 3,
                "cooldown": s.cooldown,
                # the draw waits for the beacon round due after both windows (a local
                # beacon of period 1 s): every round costs about commit_s + reveal_s + 1
                # s more than its work; 20 idle nodes commit and reveal within 2 s here
                "commit_s": 2,
                "reveal_s": 2,
                "collect_s": 120,
                "compute_s": 180,
            },
            "schedule": {"rounds": s.rounds, "min_instances": s.instances},
            **demo_privacy.privacy_section(dp=s.dp),
        }
        return demo_dpals.federation(s, config)

    def _node(self, index: int, name: str, launcher_at: str) -> dict[str, Any]:
        """Node ``name``'s ``node.yaml``: the ``index``-th MovieLens instance."""
        s = self.settings
        config = {
            "instance_id": name,
            "launcher": launcher_at,
            "mpc_address": f"{HOST}:{free_loopback_port()}",
            "state_dir": name,
            "tls": {key: f"../{path}" for key, path in tls(name).items()},
            "trainer": {
                "kind": "movielens",
                "index": index,
                "instances": s.instances,
                "seed": s.seed,
                "rounds": s.rounds,
                **demo_catalogue.trainer_settings(s),
            },
            "beacon": {"chain_info": str(s.state_dir / "beacon" / "chain-info.json")},
            "privacy_floor": demo_privacy.node_floor(
                dp=s.dp, plaintext=s.aggregation == "plaintext"
            ),
        }
        return demo_dpals.node(s, config)

    def _start(self, name: str, args: list[str]) -> None:
        logs = self.settings.state_dir / "logs"
        logs.mkdir(exist_ok=True)
        out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "mpcrec.cli.app", "-v", *args],
            stdout=out if name != "launcher" else open(self.events_path, "ab"),  # noqa: SIM115
            stderr=out,
            cwd=self.settings.state_dir,
            env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
            start_new_session=True,
        )

    @property
    def events_path(self) -> Path:
        return self.settings.state_dir / "events.jsonl"

    # -- running --------------------------------------------------------------------------

    def run(self) -> list[dict[str, Any]]:
        """Start everything, follow the events until the launcher is done; return them."""
        root = self.settings.state_dir
        self._start(
            "launcher",
            [
                "launcher",
                "--config",
                str(root / "federation.yaml"),
                "--format",
                "json",
                "--exit-when-done",
            ],
        )
        for name in self.names:
            self._start(name, ["node", "--config", str(root / "nodes" / f"{name}.yaml")])
        view = JsonEvents() if self.settings.json_events else RoundTable()
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.settings.timeout_s
        try:
            with open(self.events_path, "a+") as stream:
                stream.seek(0)
                while True:
                    line = stream.readline()
                    if line:
                        event = json.loads(line)
                        events.append(event)
                        view(event)
                        continue
                    launcher = self.procs["launcher"]
                    if launcher.poll() is not None:
                        break
                    if time.monotonic() > deadline:
                        raise UserError(
                            f"the demo did not finish in {self.settings.timeout_s:.0f}s",
                            hint=f"see the logs in {root / 'logs'}",
                        )
                    time.sleep(0.1)
        finally:
            view.close()
            self.stop()
        if self.procs.get("launcher") and self.procs["launcher"].returncode not in (0, None):
            raise UserError(f"the launcher failed; see {root / 'logs' / 'launcher.log'}")
        return events

    def stop(self) -> None:
        """SIGTERM every process, then SIGKILL what is left."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        limit = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, limit - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def costs(events: list[dict[str, Any]], instances: int) -> dict[str, Any]:
    """Seconds per published round, upload bytes per instance and round, committees."""
    opened: dict[int, float] = {}
    seconds: list[float] = []
    committees: list[list[str]] = []
    aborted = 0
    uploads: list[int] = []
    for e in events:
        if e["event"] == "contribution":
            uploads.append(int(e["bytes"]))
        if e["event"] != "round":
            continue
        rid = int(e["round_id"])
        opened.setdefault(rid, float(e["time"]))
        if e["state"] == "published":
            seconds.append(float(e["time"]) - opened[rid])
            committees.append(list(e["committee"]))
        elif e["state"] == "aborted":
            aborted += 1
    return {
        "rounds_published": len(seconds),
        "rounds_aborted": aborted,
        "round_s": seconds,  # each published round's, in order
        "round_s_median": statistics.median(seconds) if seconds else None,
        "round_s_min": min(seconds) if seconds else None,
        "upload_bytes_per_instance": statistics.mean(uploads) if uploads else None,
        "upload_bytes_total": sum(uploads),
        "committees": committees,
    }


def assembled_user_embeddings(root: Path, names: list[str], start: np.ndarray) -> np.ndarray:
    """Every node's user embeddings gathered for evaluation (simulation-only view)."""
    users = start.copy()
    for name in names:
        path = root / "nodes" / name / "user_emb.npz"
        if path.exists():
            with np.load(path) as saved:
                users[saved["users"]] = saved["emb"]
    return users


@dataclass(frozen=True)
class AuditVerdict:
    """What ``mpcrec audit verify`` says of a demo's log.

    Attributes
    ----------
    ok:
        Whether every rule holds.
    rules:
        How many rules were checked.
    findings:
        Each broken rule as ``"rule entry N: message"``.
    epsilon:
        ε the published rounds spent (``inf`` without noise).
    privacy:
        The verifier's sentence on ε, δ and the declared budget (or that none was declared).
    log:
        The exported log.
    """

    ok: bool
    rules: int
    findings: list[str]
    epsilon: float
    privacy: str
    log: Path

    def to_json(self) -> dict[str, Any]:
        """The report's audit fields (an infinite ε as ``"inf"``: JSON has no infinity)."""
        return {
            "audit_ok": self.ok,
            "audit_rules": self.rules,
            "audit_findings": self.findings,
            "epsilon": self.epsilon if math.isfinite(self.epsilon) else "inf",
            "privacy": self.privacy,
            "audit_log": str(self.log),
        }

    def summary(self) -> str:
        """One line for the report."""
        verdict = "[bold green]VERIFIED[/]" if self.ok else "[bold red]FAILED[/]"
        found = f"{len(self.findings)} finding(s)" if self.findings else "no finding"
        lines = [f"audit: {verdict}: {self.rules} rules checked, {found}; {self.privacy}"]
        lines += [f"  [red]{finding}[/]" for finding in self.findings[:20]]
        return "\n".join(lines)


def audit_verdict(state_dir: Path) -> AuditVerdict:
    """Export the demo's audit log to ``state_dir/audit.jsonl`` and verify it, with the tree
    heads each node kept (``state_dir/nodes/*/tree_heads.jsonl``) and cosigned
    (``witnessed_head.json``) checked against it."""
    log_path = state_dir / "audit.jsonl"
    log = AuditLog.in_state_dir(state_dir)
    try:
        log.export_jsonl(log_path)
    finally:
        log.close()
    heads = sorted(state_dir.glob("nodes/*/tree_heads.jsonl"))
    heads += sorted(state_dir.glob("nodes/*/witnessed_head.json"))
    report = verify_file(log_path, heads_paths=heads, workers=1)
    return AuditVerdict(
        ok=report.ok,
        rules=len(RULES),
        findings=[
            f"{f.rule} {'log' if f.index is None else f'entry {f.index}'}: {f.message}"
            for f in report.findings
        ],
        epsilon=float(report.stats["epsilon"]),
        privacy=str(report.stats["privacy"]),
        log=log_path,
    )


def tls(name: str) -> dict[str, str]:
    """The ``tls`` section for ``name``'s certificate, relative to the state directory."""
    return {"cert": f"pki/{name}.pem", "key": f"pki/{name}.key", "ca": "pki/ca/ca.pem"}


def _dump(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
