"""``mpcrec bench soak``: a small real federation for thousands of rounds, watched for growth.

A local beacon, a launcher and ``--nodes`` nodes (:mod:`mpcrec.bench.soak_federation`,
each its own process with its children) run ``--rounds`` rounds of a small model. Every
``--every`` ended rounds (published or aborted) the benchmark reads each process tree's
resident memory, threads and open file descriptors from /proc
(:mod:`mpcrec.process_usage`) and rewrites the JSON (a partial run still reports). At the
end it fits a least-squares line to each series after ``--warm-up`` rounds and reports the
growth per 1,000 rounds; growth beyond the tolerances fails the command (exit code 2),
naming the process and the series.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from mpcrec.bench.report import check_writable, metric_table, write_json
from mpcrec.bench.soak_federation import SoakFederation, SoakSettings
from mpcrec.errors import ConfigError, UserError
from mpcrec.process_usage import MIB, tree_usage

#: Growth per 1,000 rounds above which the soak fails: resident MiB, threads, open files.
TOLERANCE = {"rss_mib": 8.0, "threads": 1.0, "open_files": 2.0}
SERIES = tuple(TOLERANCE)


def register(sub: Any) -> None:
    """Add ``soak`` to the ``mpcrec bench`` subcommands."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "soak",
        help="run a small federation for many rounds; fail on memory, thread or file growth",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=2000, help="published rounds (2000)")
    parser.add_argument("--nodes", type=int, default=4, help="node processes (4)")
    parser.add_argument("--every", type=int, default=25, help="sample every N rounds (25)")
    parser.add_argument("--warm-up", type=int, default=100, help="rounds before the fit (100)")
    parser.add_argument("--aggregation", choices=["plaintext", "secure"], default="plaintext")
    parser.add_argument("--commit-s", type=float, default=0.5, help="commit window (0.5 s)")
    parser.add_argument("--reveal-s", type=float, default=0.5, help="reveal window (0.5 s)")
    parser.add_argument(
        "--cold-seat", action="store_true", help="secure: start the party at every draw"
    )
    parser.add_argument("--timeout", type=float, default=6 * 3600.0, help="give up after, s")
    parser.add_argument("--state-dir", type=Path, help="where the federation lives (temp)")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the soak, print a table, write JSON; exit code 2 on growth beyond tolerance."""
    _check(args)
    check_writable(args.out)
    state = (args.state_dir or Path(tempfile.mkdtemp(prefix="mpcrec-soak-"))).resolve()
    state.mkdir(parents=True, exist_ok=True)
    settings = SoakSettings(
        state_dir=state,
        rounds=args.rounds,
        nodes=args.nodes,
        aggregation=args.aggregation,
        commit_s=args.commit_s,
        reveal_s=args.reveal_s,
        warm_seat=not args.cold_seat,
    )
    console = Console()
    console.print(f"soak federation in {state}")
    soak = Soak(settings, args)
    try:
        soak.run(console)
    finally:
        soak.federation.stop()
    result = soak.result(finished=True)
    write_json(args.out, result)
    console.print(table(result))
    console.print(f"report: {args.out}")
    if result["growth"]:
        raise UserError(
            "the soak found growth beyond tolerance: " + "; ".join(result["growth"]),
            hint=f"see {args.out} and the logs in {state / 'logs'}",
        )
    return 0


def _check(args: argparse.Namespace) -> None:
    if args.rounds < 1 or args.every < 1 or args.nodes < 3 or args.warm_up < 0:
        raise ConfigError(
            f"--rounds {args.rounds} --every {args.every} --nodes {args.nodes} "
            f"--warm-up {args.warm_up}",
            hint="rounds and every >= 1, nodes >= 3 (a committee of 3), warm-up >= 0",
        )


class Soak:
    """One soak run: the federation, the rounds seen, the samples taken."""

    def __init__(self, settings: SoakSettings, args: argparse.Namespace) -> None:
        self.federation = SoakFederation(settings)
        self.args = args
        self.published = self.aborted = 0
        self.samples: list[dict[str, Any]] = []
        self.opened: dict[int, float] = {}  # round id: its first event's time
        self.round_s: list[float] = []  # open to published, per published round
        self.started = time.monotonic()
        self.load_before = _load()

    @property
    def ended(self) -> int:
        return self.published + self.aborted

    def run(self, console: Console) -> None:
        """Start the federation and follow its events until ``--rounds`` are published."""
        self.federation.prepare()
        self.federation.start()
        deadline = self.started + self.args.timeout
        self.sample()
        with open(self.federation.events_path, "a+") as stream:
            stream.seek(0)
            while self.published < self.args.rounds:
                line = stream.readline()
                if not line:
                    self._check_alive(deadline)
                    time.sleep(0.2)
                    continue
                if self._count(json.loads(line)) and self.ended % self.args.every == 0:
                    self.sample()
                    last = self.samples[-1]
                    total = sum(p["rss_mib"] for p in last["processes"].values())
                    console.print(
                        f"round {self.ended}: {self.published} published, {self.aborted} "
                        f"aborted, {total:.0f} MiB in all, {last['elapsed_s']:.0f} s"
                    )
        self.sample()

    def _check_alive(self, deadline: float) -> None:
        exited = self.federation.exited()
        if exited:
            self._write()
            raise UserError(f"soak processes exited: {exited}", hint="see the logs")
        if time.monotonic() > deadline:
            self._write()
            raise UserError(f"the soak did not finish in {self.args.timeout:.0f}s")

    def _count(self, event: dict[str, Any]) -> bool:
        """Count a round that ended; ``True`` if ``event`` was one."""
        if event.get("event") != "round":
            return False
        opened = self.opened.setdefault(int(event["round_id"]), float(event["time"]))
        if event.get("state") == "published":
            self.published += 1
            self.round_s.append(float(event["time"]) - opened)
            self.opened.pop(int(event["round_id"]))
            return True
        if event.get("state") == "aborted":
            self.aborted += 1
            self.opened.pop(int(event["round_id"]))
            return True
        return False

    def sample(self) -> None:
        """Read every process tree now, add it to the samples, rewrite the JSON."""
        processes: dict[str, dict[str, Any]] = {}
        for role, pid in self.federation.pids().items():
            usage = tree_usage([pid])
            processes[role] = {
                "processes": len(usage),
                "rss_mib": round(sum(u.rss_bytes for u in usage) / MIB, 2),
                "threads": sum(u.threads for u in usage),
                "open_files": sum(u.open_files for u in usage),
            }
        self.samples.append(
            {
                "round": self.ended,
                "published": self.published,
                "elapsed_s": round(time.monotonic() - self.started, 1),
                "processes": processes,
            }
        )
        self._write()

    def _write(self) -> None:
        write_json(self.args.out, self.result(finished=False))

    def result(self, *, finished: bool) -> dict[str, Any]:
        """The report: settings, samples, slopes and the verdict so far."""
        slopes = growth_per_1000(self.samples, self.args.warm_up)
        return {
            "finished": finished,
            "rounds_target": self.args.rounds,
            "rounds_ended": self.ended,
            "rounds_published": self.published,
            "rounds_aborted": self.aborted,
            "nodes": self.args.nodes,
            "aggregation": self.args.aggregation,
            "warm_seat": not self.args.cold_seat,
            "commit_s": self.args.commit_s,
            "reveal_s": self.args.reveal_s,
            "every": self.args.every,
            "warm_up": self.args.warm_up,
            "elapsed_s": round(time.monotonic() - self.started, 1),
            "seconds_per_round": (
                round((time.monotonic() - self.started) / self.ended, 3) if self.ended else None
            ),
            "round_s_median": statistics.median(self.round_s) if self.round_s else None,
            "round_s_p90": _quantile(self.round_s, 0.9),
            "tolerance_per_1000_rounds": TOLERANCE,
            "slopes_per_1000_rounds": slopes,
            "growth": beyond_tolerance(slopes),
            "load_average_before": self.load_before,
            "load_average": _load(),
            "samples": self.samples,
        }


def growth_per_1000(samples: list[dict[str, Any]], warm_up: int) -> dict[str, dict[str, float]]:
    """Least-squares slope of every process's series over the rounds after ``warm_up``,
    per 1,000 rounds (a process needs three samples there to have one)."""
    after = [s for s in samples if s["round"] >= warm_up]
    roles = sorted({role for s in after for role in s["processes"]})
    slopes: dict[str, dict[str, float]] = {}
    for role in roles:
        seen = [s for s in after if role in s["processes"]]
        if len({s["round"] for s in seen}) < 3:
            continue
        xs = [float(s["round"]) for s in seen]
        slopes[role] = {
            name: round(1000 * _slope(xs, [float(s["processes"][role][name]) for s in seen]), 3)
            for name in SERIES
        }
    return slopes


def _slope(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def beyond_tolerance(slopes: dict[str, dict[str, float]]) -> list[str]:
    """``"ROLE SERIES +X per 1000 rounds (tolerance T)"`` for each slope above tolerance."""
    return [
        f"{role} {name} {value:+.2f} per 1000 rounds (tolerance {TOLERANCE[name]:g})"
        for role, series in slopes.items()
        for name, value in series.items()
        if value > TOLERANCE[name]
    ]


def table(result: dict[str, Any]) -> Any:
    """One row per process: first and last sample, growth per 1,000 rounds."""
    samples = result["samples"]
    rows: list[tuple[str, str]] = []
    for role, slope in result["slopes_per_1000_rounds"].items():
        first = next(s["processes"][role] for s in samples if role in s["processes"])
        last = next(s["processes"][role] for s in reversed(samples) if role in s["processes"])
        rows.append(
            (
                role,
                f"{first['rss_mib']:.0f} -> {last['rss_mib']:.0f} MiB ({slope['rss_mib']:+.2f}), "
                f"{first['threads']} -> {last['threads']} threads ({slope['threads']:+.2f}), "
                f"{first['open_files']} -> {last['open_files']} fds ({slope['open_files']:+.2f})",
            )
        )
    title = (
        f"soak: {result['rounds_published']} published, {result['rounds_aborted']} aborted, "
        f"{result['seconds_per_round']} s per round; growth per 1000 rounds in ()"
    )
    return metric_table(title, rows, header=("process", "first -> last (slope)"))


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _load() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []
