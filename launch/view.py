"""What an operator sees: a live rich table of the rounds, or JSON events for machines."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

Event = dict[str, Any]


class JsonEvents:
    """Every launcher event as one JSON line on ``stream`` (``--format json``)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.stream.write(json.dumps(event, sort_keys=True) + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Nothing to tear down."""


def _epsilon(value: object) -> str:
    """ε spent so far as the view shows it (``inf`` without noise, blank if not sent)."""
    if value is None:
        return "inf"
    return f"{value:.2f}" if isinstance(value, (int, float)) else ""


class RoundTable:
    """The live view: one row per round (state, committee, contributions, time, bytes, the
    ε spent after it at the declared unit and δ)."""

    def __init__(self, console: Console | None = None, keep: int = 12) -> None:
        self.keep = keep
        self._rows: dict[int, dict[str, Any]] = {}
        self._opened: dict[int, float] = {}
        self._lock = threading.Lock()
        self._live = Live(self.render(), console=console or Console(), refresh_per_second=4)
        self._live.start()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if event["event"] == "round":
                rid = int(event["round_id"])
                self._opened.setdefault(rid, float(event["time"]))
                self._rows[rid] = {**event, "elapsed": float(event["time"]) - self._opened[rid]}
            elif event["event"] == "contribution":
                row = self._rows.get(int(event["round_id"]))
                if row is not None:
                    row["uploads"] = row.get("uploads", 0) + 1
                    row["upload_bytes"] = row.get("upload_bytes", 0) + int(event["bytes"])
        self._live.update(self.render())

    def render(self) -> Table:
        """The table as it stands."""
        table = Table(title="mpcrec launcher", expand=False)
        columns = ("round", "model", "state", "committee", "contrib.", "time", "bytes", "ε", "note")
        for name in columns:
            table.add_column(name)
        with self._lock:
            for rid in sorted(self._rows)[-self.keep :]:
                r = self._rows[rid]
                style = {"published": "green", "aborted": "red"}.get(r["state"], "")
                table.add_row(
                    str(rid),
                    f"v{r['model_version']}",
                    f"[{style}]{r['state']}[/]" if style else r["state"],
                    " ".join(r["committee"]),
                    str(len(r["contributors"]) or r.get("uploads", 0)),
                    f"{r['elapsed']:.1f}s",
                    f"{r['upload_bytes'] / 1e6:.2f} MB",
                    _epsilon(r.get("epsilon", "")),
                    r["reason"][:40],
                )
        return table

    def close(self) -> None:
        """Stop the live display."""
        time.sleep(0.1)
        self._live.stop()
