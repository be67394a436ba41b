"""``mpcrec bench recommend``: latency of one user's top-k over a large catalogue.

Builds a random model snapshot (``--items`` videos of ``--dim`` dimensions, ``--users``
users with embeddings, each having seen ``--seen`` videos), then measures

- *in-process*: :meth:`ModelSnapshot.recommend` alone (score every video, exclude seen
  ones, top-k), ``--requests`` times for random users;
- *HTTP*: the same through ``mpcrec serve`` started as a separate process on loopback,
  one keep-alive client sending ``--requests`` sequential GETs to
  ``/api/v1/recommendations/videos`` after ``--warmup`` unmeasured ones (with the shared
  secret, so the authentication is measured too);
- *related*: both again for related videos (``videoId=`` of a random video, anonymous,
  :meth:`ModelSnapshot.related`).

With ``--baseline DIR`` (another checkout of mpcrec, e.g. the main branch) a second
``mpcrec serve`` runs that checkout's code on the same snapshot, and every HTTP request is
sent to both servers in turn, so the two versions are compared side by side under the same
load (``baseline_http``, ``baseline_related_http``).

Prints p50/p95/p99/max in milliseconds and writes them with the machine's load to JSON.
Target (issues 6 and 12): p99 <= 20 ms over HTTP for top-10 of 100,000 videos, for personal
lists and related videos alike.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from mpcrec.bench.report import write_json
from mpcrec.errors import UserError
from mpcrec.loopback import free_loopback_port
from mpcrec.node.recommender import ModelSnapshot

TARGET_P99_MS = 20.0
ROUTE = "/api/v1/recommendations/videos"


def register(sub: Any) -> None:
    """Add ``bench recommend``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "recommend",
        help="latency of top-k recommendations, in process and over HTTP",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--items", type=int, default=100_000, help="catalogue size")
    parser.add_argument("--dim", type=int, default=32, help="embedding dimension")
    parser.add_argument("--users", type=int, default=1000, help="users with embeddings")
    parser.add_argument("--seen", type=int, default=50, help="videos each user has seen")
    parser.add_argument("--count", type=int, default=10, help="k of top-k")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests")
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured requests first")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--baseline", type=Path, help="another mpcrec checkout to serve side by side over HTTP"
    )
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.set_defaults(func=run)


def build_snapshot(items: int, dim: int, users: int, seen: int, seed: int) -> ModelSnapshot:
    """A random snapshot of the given size (Gaussian embeddings, Zipf-like popularity)."""
    rng = np.random.default_rng(seed)
    urls = [f"https://tube{i % 50}.example/videos/watch/{i:012d}" for i in range(items)]
    popularity = 1.0 / np.arange(1, items + 1, dtype=np.float64)
    rng.shuffle(popularity)
    return ModelSnapshot.build(
        version=f"bench-{seed}",
        item_urls=urls,
        item_uuids=[f"00000000-0000-4000-8000-{i:012d}" for i in range(items)],
        item_embeddings=rng.normal(0, 0.1, size=(items, dim)).astype(np.float32),
        user_embeddings={u: rng.normal(size=dim) for u in range(1, users + 1)},
        popularity=popularity,
        local_users=range(1, users + 1),
        seen={
            u: [urls[i] for i in rng.choice(items, size=min(seen, items), replace=False)]
            for u in range(1, users + 1)
        },
    )


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    """p50/p95/p99/max/mean of nanosecond samples, in milliseconds."""
    ms = np.asarray(samples_ns, np.float64) / 1e6
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "mean_ms": float(ms.mean()),
    }


def time_in_process(snapshot: ModelSnapshot, queries: list[dict[str, Any]]) -> list[int]:
    """Nanoseconds of each :meth:`ModelSnapshot.recommend` (``userId``) or
    :meth:`ModelSnapshot.related` (``videoId``) call."""
    samples = []
    for query in queries:
        start = time.perf_counter_ns()
        if "videoId" in query:
            snapshot.related(query["videoId"], query["count"])
        else:
            snapshot.recommend(query["userId"], query["count"])
        samples.append(time.perf_counter_ns() - start)
    return samples


def run(args: argparse.Namespace) -> int:
    """Run both measurements, print the table, write the JSON."""
    if min(args.items, args.dim, args.users, args.requests, args.count) <= 0:
        raise UserError("--items, --dim, --users, --requests and --count must be positive")
    console = Console()
    load_before = os.getloadavg()
    console.print(f"building a snapshot of {args.items:,} videos x {args.dim} ...")
    snapshot = build_snapshot(args.items, args.dim, args.users, args.seen, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    n = args.requests + args.warmup
    users = rng.integers(1, args.users + 1, size=n).tolist()
    videos = rng.integers(0, args.items, size=n).tolist()
    personal = [{"userId": u, "count": args.count} for u in users]
    related = [{"videoId": snapshot.item_uuids[v], "count": args.count} for v in videos]
    measured = {}
    for name, queries in (("", personal), ("related_", related)):
        time_in_process(snapshot, queries[: args.warmup])
        measured[f"{name}in_process"] = percentiles(
            time_in_process(snapshot, queries[args.warmup :])
        )
    with tempfile.TemporaryDirectory(prefix="mpcrec-bench-") as tmp:
        path = Path(tmp) / "snapshot.npz"
        snapshot.save(path)
        servers: list[str | None] = [None]
        if args.baseline is not None:
            servers.append(str(args.baseline.resolve()))
        samples = _http_samples(path, [personal, related], args.warmup, servers)
    measured["http"], measured["related_http"] = map(percentiles, samples[0])
    if args.baseline is not None:
        measured["baseline_http"], measured["baseline_related_http"] = map(percentiles, samples[1])
    local, http = measured["in_process"], measured["http"]
    result = {
        "benchmark": "recommend",
        "items": args.items,
        "dim": args.dim,
        "users": args.users,
        "seen_per_user": args.seen,
        "count": args.count,
        "requests": args.requests,
        "warmup": args.warmup,
        "in_process": local,
        "http": http,
        "related_in_process": measured["related_in_process"],
        "related_http": measured["related_http"],
        **{k: v for k, v in measured.items() if k.startswith("baseline_")},
        "baseline": str(args.baseline) if args.baseline else None,
        "target_p99_ms": TARGET_P99_MS,
        "target_met": max(http["p99_ms"], measured["related_http"]["p99_ms"]) <= TARGET_P99_MS,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "loadavg_before": list(load_before),
            "loadavg_after": list(os.getloadavg()),
        },
        "command": "mpcrec bench recommend " + " ".join(sys.argv[3:]),
    }
    write_json(args.out, result)
    _print(console, result)
    return 0


def _http_samples(
    path: Path, runs: list[list[dict[str, Any]]], warmup: int, code: list[str | None]
) -> list[list[list[int]]]:
    """Nanoseconds of each request after ``warmup``, per server (one per entry of ``code``:
    ``None`` is this checkout, a path another one) and per run of queries; each query goes
    to every server in turn."""
    secret = secrets.token_urlsafe(32)
    secret_file = path.with_name("api.secret")
    secret_file.write_text(secret)
    secret_file.chmod(0o600)
    headers = {"Authorization": f"Bearer {secret}"}
    servers: list[subprocess.Popen[bytes]] = []
    clients: list[httpx.Client] = []
    try:
        for pythonpath in code:
            port = free_loopback_port()
            env = (
                dict(os.environ) if pythonpath is None else {**os.environ, "PYTHONPATH": pythonpath}
            )
            cmd = [sys.executable, "-m", "mpcrec.cli.serve", "--snapshot", str(path)]
            cmd += ["--secret-file", str(secret_file), "--port", str(port), "--watch-seconds", "0"]
            servers.append(
                subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            )
            url = f"http://127.0.0.1:{port}"
            clients.append(httpx.Client(base_url=url, timeout=30, headers=headers))
            _wait_ready(clients[-1], servers[-1])
        samples: list[list[list[int]]] = [[[] for _ in runs] for _ in code]
        for r, queries in enumerate(runs):
            for k, params in enumerate(queries):
                for s, client in enumerate(clients):
                    elapsed = _timed_get(client, params)
                    if k >= warmup:
                        samples[s][r].append(elapsed)
        return samples
    finally:
        for client in clients:
            client.close()
        for server in servers:
            _stop(server)


def _timed_get(client: httpx.Client, params: dict[str, Any]) -> int:
    start = time.perf_counter_ns()
    response = client.get(ROUTE, params=params)
    elapsed = time.perf_counter_ns() - start
    if response.status_code != 200:
        raise RuntimeError(f"server answered {response.status_code}: {response.text}")
    return elapsed


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


def _wait_ready(
    client: httpx.Client, server: subprocess.Popen[bytes], timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            err = server.stderr.read().decode() if server.stderr else ""
            raise RuntimeError(f"mpcrec serve exited with {server.returncode}: {err}")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("mpcrec serve did not become ready")


def _print(console: Console, result: dict[str, Any]) -> None:
    table = Table(
        title=f"top-{result['count']} of {result['items']:,} videos x {result['dim']}, "
        f"{result['requests']:,} requests"
    )
    table.add_column("path")
    for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
        table.add_column(name.replace("_ms", " (ms)"), justify="right")
    paths = ["in_process", "http", "related_in_process", "related_http"]
    paths += [p for p in ("baseline_http", "baseline_related_http") if p in result]
    for path in paths:
        row = result[path]
        table.add_row(path, *(f"{row[k]:.2f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")))
    console.print(table)
    verdict = "met" if result["target_met"] else "NOT met"
    load = result["machine"]["loadavg_before"][0]
    console.print(
        f"target p99 <= {result['target_p99_ms']} ms over HTTP: {verdict} (load {load:.2f})"
    )
