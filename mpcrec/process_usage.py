"""What processes use: resident memory, threads and open file descriptors, read from /proc.

:func:`usage_of` reads one process; :func:`tree_of` finds a process and every descendant
(a node's committee party and multiprocessing's resource tracker are its children);
:class:`PeakMemory` samples the total resident memory of process trees in a background
thread and keeps the peak (``mpcrec demo``'s report, ``mpcrec bench soak``). Linux only: on
a system without ``/proc`` every reading is empty.

Resident memory is ``VmRSS`` (pages shared between processes, such as the Python
interpreter's, count once per process: the sum over processes is an upper bound of what they
hold together).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

PROC = Path("/proc")
MIB = 1 << 20


@dataclass(frozen=True)
class ProcessUsage:
    """One process at one moment.

    Attributes
    ----------
    pid, name:
        The process id and its command name (``/proc/PID/comm``).
    rss_bytes:
        Resident memory (``VmRSS``).
    threads:
        Number of threads.
    open_files:
        Number of open file descriptors (sockets and pipes included).
    """

    pid: int
    name: str
    rss_bytes: int
    threads: int
    open_files: int


def usage_of(pid: int) -> ProcessUsage | None:
    """``pid``'s usage now, or ``None`` once it has exited (or cannot be read)."""
    base = PROC / str(pid)
    try:
        fields = dict(
            line.split(":", 1) for line in (base / "status").read_text().splitlines() if ":" in line
        )
        open_files = len(os.listdir(base / "fd"))
    except (OSError, ValueError):
        return None
    rss_kib = int(fields.get("VmRSS", "0 kB").split()[0])  # zombies have no VmRSS
    return ProcessUsage(
        pid=pid,
        name=fields.get("Name", "?").strip(),
        rss_bytes=rss_kib * 1024,
        threads=int(fields.get("Threads", "0").split()[0]),
        open_files=open_files,
    )


def _parents() -> dict[int, int]:
    """Every visible process's parent, ``{pid: ppid}``."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        after = stat.rsplit(")", 1)[-1].split()
        if len(after) > 1:
            parents[int(entry.name)] = int(after[1])
    return parents


def tree_of(roots: Iterable[int]) -> list[int]:
    """``roots`` and all their living descendants, roots first."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: list[int] = []
    todo = [pid for pid in roots if pid in parents]
    while todo:
        pid = todo.pop(0)
        if pid not in found:
            found.append(pid)
            todo.extend(sorted(children.get(pid, [])))
    return found


def tree_usage(roots: Iterable[int]) -> list[ProcessUsage]:
    """The usage of every process in the trees of ``roots``."""
    found = (usage_of(pid) for pid in tree_of(roots))
    return [u for u in found if u is not None]


class PeakMemory:
    """The peak of the total resident memory of some process trees, sampled in a thread.

    Parameters
    ----------
    roots:
        Called at every sample: the pids whose trees are summed (processes may come and go).
    interval_s:
        Seconds between samples.

    Use as a context manager (or :meth:`start` / :meth:`stop`); :attr:`peak_bytes` and
    :meth:`to_json` give the result.
    """

    def __init__(self, roots: Callable[[], Iterable[int]], *, interval_s: float = 0.5) -> None:
        self.roots, self.interval_s = roots, interval_s
        self.peak_bytes = 0
        self.peak_processes = 0  # processes counted in the peak sample
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> int:
        """Take one sample now; returns its total resident bytes."""
        usage = tree_usage(self.roots())
        total = sum(u.rss_bytes for u in usage)
        self.samples += 1
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_processes = total, len(usage)
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def start(self) -> PeakMemory:
        """Start sampling in a daemon thread."""
        self.sample()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling (after one last sample)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.sample()

    def __enter__(self) -> PeakMemory:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def to_json(self) -> dict[str, Any]:
        """The report's fields: peak total resident MiB, processes in it, samples taken."""
        return {
            "peak_rss_mib": round(self.peak_bytes / MIB, 1),
            "peak_processes": self.peak_processes,
            "memory_samples": self.samples,
            "memory_interval_s": self.interval_s,
        }
