"""``mpcrec bench catalogue``: the federation's catalogue at scale.

A synthetic federation of ``--instances`` instances with ``--videos`` public videos in all
(PeerTube-like metadata: a 36-character uuid, a title of a few words, three tags, category,
language, licence, channel and account names, duration, publication time; each instance's
users also interacted with ``--remote`` videos of other instances). Measured:

- **merge**: the launcher's :meth:`~mpcrec.data.catalogue_merge.CatalogueBook.merge` of every
  export into version 1 (rows encoded and hashed, the chain link made), wall-clock and CPU
  time of the process (on a loaded machine the CPU time is the cost; the target is judged
  on it, and the wall-clock is reported beside it);
- **diff**: the next round's version after ``--new`` new videos (one per instance, the
  first ones) and ``--retire`` deletions: its file's bytes as sent to a node, and gzipped;
- **node memory**: a separate process loads the node's verified copy from its files
  (:meth:`~mpcrec.data.catalogue_index.CatalogueIndex.load`, chain and hashes checked) and
  reports its resident memory above the interpreter's with numpy loaded (``VmRSS``) and the
  peak while loading (``VmHWM``).

Targets (issue 13): merge <= 10 s, diff <= 1 MB for 1,000 new videos, node memory <= 200 MB.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from mpcrec.bench.report import check_writable, metric_table, write_json
from mpcrec.data.catalogue import VideoRecord, encode_diff
from mpcrec.data.catalogue_merge import CatalogueBook, InstanceExport
from mpcrec.data.catalogue_store import CatalogueDir

TARGETS = {"merge_s": 10.0, "diff_bytes": 1_000_000, "node_rss_mb": 200.0}
_WORDS = ("river", "night", "guitar", "lesson", "city", "garden", "linux", "cooking", "tour")


def register(sub: Any) -> None:
    """Add ``bench catalogue``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "catalogue",
        help="the catalogue at scale: merge time, per-round diff, a node's memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--videos", type=int, default=1_000_000, help="videos in all")
    parser.add_argument("--instances", type=int, default=1_000, help="instances exporting")
    parser.add_argument("--remote", type=int, default=50, help="remote URLs per instance")
    parser.add_argument("--new", type=int, default=1_000, help="new videos in the next round")
    parser.add_argument("--retire", type=int, default=100, help="videos deleted before it")
    parser.add_argument("--out", type=Path, required=True, help="JSON result file")
    parser.set_defaults(func=run)


def _video(instance: int, k: int) -> VideoRecord:
    host = f"tube{instance:04d}.example"
    words = " ".join(_WORDS[(k * p) % len(_WORDS)] for p in (1, 3, 7))
    return VideoRecord(
        url=f"https://{host}/videos/watch/{instance:08x}-{k:04x}-4000-8000-{k:012x}",
        uuid=f"{instance:08x}-{k:04x}-4000-8000-{k:012x}",
        name=f"{words} #{k}",
        tags=tuple(sorted({_WORDS[k % 9], _WORDS[(k + 4) % 9], _WORDS[(k + instance) % 9]})),
        category=1 + k % 18,
        language=("en", "fr", "de", "es")[k % 4],
        licence=1 + k % 7,
        channel=f"channel {k % 5} of {host}",
        account=f"user{k % 20}",
        duration=60 + k % 3600,
        published_at=1_700_000_000 + 37 * k,
        instance=f"tube{instance:04d}",
    )


def exports(videos: int, instances: int, remote: int, start: int = 0) -> list[InstanceExport]:
    """Each instance's export: ``videos / instances`` own videos from index ``start``."""
    per = videos // instances
    out = []
    for i in range(instances):
        own = tuple(_video(i, k) for k in range(start, start + per))
        others = tuple(_video((i + 1 + j) % instances, j).url for j in range(remote))
        out.append(InstanceExport(f"tube{i:04d}", own, others))
    return out


_NODE = """
import json, resource, sys
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
import numpy, mpcrec.data.catalogue_index as ci
base = status("VmRSS")
index = ci.CatalogueIndex.load(sys.argv[1])
assert index.row(index.url(len(index) - 1)) == len(index) - 1
print(json.dumps({"base_mb": base, "rss_mb": status("VmRSS"), "peak_mb": status("VmHWM"),
                  "rows": len(index)}))
"""


def node_memory(directory: Path) -> dict[str, float]:
    """A fresh process's memory for the catalogue in ``directory`` (module docstring)."""
    done = subprocess.run(
        [sys.executable, "-c", _NODE, str(directory)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Every figure of the module docstring."""
    first = exports(args.videos, args.instances, args.remote)
    started, cpu = time.perf_counter(), time.process_time()
    book = CatalogueBook()
    diff = book.merge(first)
    merge_s, merge_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    assert diff is not None
    store = CatalogueDir(workdir / "catalogue")
    tip = store.append(diff, book.tip)
    book.apply(diff)
    per = args.videos // args.instances
    after = [
        InstanceExport(
            e.instance,
            e.videos[args.retire // args.instances + (i < args.retire % args.instances) :]
            + tuple(_video(i, per + k) for k in range(args.new // args.instances)),
            e.remote_urls,
        )
        for i, e in enumerate(first)
    ]
    started = time.perf_counter()
    step = book.merge(after)
    step_s = time.perf_counter() - started
    assert step is not None
    store.append(step, tip)
    wire = encode_diff(step)
    memory = node_memory(workdir / "catalogue")
    return {
        "videos": args.videos,
        "instances": args.instances,
        "rows_v1": diff.header.rows,
        "merge_s": round(merge_s, 3),
        "merge_cpu_s": round(merge_cpu_s, 3),
        "merge_next_s": round(step_s, 3),
        "v1_bytes": len(encode_diff(diff)),
        "new_rows": len(step.lines),
        "retired": len(step.header.new_retired),
        "diff_bytes": len(wire),
        "diff_gzip_bytes": len(gzip.compress(wire)),
        "node_rss_mb": round(memory["rss_mb"] - memory["base_mb"], 1),
        "node_peak_mb": round(memory["peak_mb"] - memory["base_mb"], 1),
        "node_base_mb": round(memory["base_mb"], 1),
    }


def run(args: argparse.Namespace) -> int:
    """Run, print the table, write the JSON."""
    check_writable(args.out)
    console = Console()
    load_before = os.getloadavg()
    console.print(f"{args.videos:,} videos across {args.instances:,} instances ...")
    with tempfile.TemporaryDirectory(prefix="mpcrec-bench-catalogue-") as tmp:
        result = measure(args, Path(tmp))
    result["targets"] = TARGETS
    result["meets"] = {
        "merge_s": result["merge_cpu_s"] <= TARGETS["merge_s"],
        "diff_bytes": result["diff_bytes"] <= TARGETS["diff_bytes"],
        "node_rss_mb": result["node_rss_mb"] <= TARGETS["node_rss_mb"],
    }
    result["loadavg_before"] = list(load_before)
    result["loadavg_after"] = list(os.getloadavg())
    write_json(args.out, result)
    rows = [(k, f"{v:,}" if isinstance(v, int) else str(v)) for k, v in result.items()]
    console.print(metric_table("catalogue at scale", [r for r in rows if r[0] != "targets"]))
    return 0 if all(result["meets"].values()) else 1
