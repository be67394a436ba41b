"""A node's refusals: the rounds it would not take part in, and why.

Every check a node makes on what the launcher tells it (a key not bound to its instance's
certificate, a round below the node's privacy floor, parameters that differ from the signed
ones, a base model it contributed to already, a forked log) raises :class:`RoundRefused`
with a short ``rule`` name. The daemon (:mod:`mpcrec.node.daemon`) catches it and records
it in :class:`RefusalLog`: one WARNING line an operator can read, and one JSON line in
``<state_dir>/refusals.jsonl`` that a script (or a test) can. Refusing is always safe: the
node sends nothing for that step of the round, and the launcher's deadline does the rest.

Rules (the ``rule`` field):

* ``unbound-key``: a member's, the dealer's or a contributor's key is not vouched for by a
  certificate of the federation's CA naming that instance;
* ``slot-mismatch``: an envelope claims another contributor than the one it came as;
* ``floor-*``: the round is below this node's privacy floor (``aggregation``,
  ``range-check``, ``min-contributors``, ``noise``, ``weight``, ``user-dp``: the user-level
  minimums of :mod:`mpcrec.node.user_dp`, or a trainer that cannot clip per user);
* ``params-mismatch``, ``weight-mismatch``: what the launcher announced differs from what
  was signed;
* ``model-reused``: this node already contributed to a round on the same base model;
* ``fork``, ``inclusion``: the launcher's log forked, or lacks this node's own entry;
* ``beacon``: the round is bound to a beacon round already due (its value may be known
  before this node commits or reveals), or to none while this node pins a beacon chain;
* ``catalogue-unverified``: the round's catalogue version is not one this node fetched and
  verified against the launcher's signed log entry (:mod:`mpcrec.node.catalogue_sync`);
* ``model-unsigned``: the base model the launcher served (to train on, to aggregate over or
  to serve) comes without the signed results of a full committee over its version and hash:
  a model no committee computed, such as a base padded with rows of the launcher's
  (:mod:`mpcrec.node.model_provenance`);
* ``model-kind``: the federation trains a model kind (``RoundParams.model``: ``mf``,
  ``dpals``, ``seqrec``) this node's trainer cannot train, or the round's base has rows
  other than the fixed catalogue its trainer trains (a DP-ALS trainer handed a model grown
  with the catalogue) (:mod:`mpcrec.node.model_kind`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from mpcrec.errors import ProtocolError

log = logging.getLogger("mpcrec.node")

REFUSALS_FILE = "refusals.jsonl"


class RoundRefused(ProtocolError):
    """This node will not take this step of the round (``rule``: why, in one word)."""

    def __init__(self, rule: str, detail: str, *, hint: str | None = None) -> None:
        super().__init__(f"{rule}: {detail}", hint=hint)
        self.rule = rule
        self.detail = detail


class RefusalLog:
    """Where a node records its refusals (``<state_dir>/refusals.jsonl``), append-only."""

    def __init__(self, state_dir: Path, instance_id: str) -> None:
        self.path = Path(state_dir) / REFUSALS_FILE
        self.instance_id = instance_id
        self._lock = threading.Lock()

    def record(self, round_id: int, refusal: RoundRefused) -> None:
        """Log ``refusal`` (WARNING) and append it as one JSON line."""
        log.warning(
            "%s: round %d: refused (%s): %s",
            self.instance_id,
            round_id,
            refusal.rule,
            refusal.detail,
        )
        line = {"time": time.time(), "round": round_id, "rule": refusal.rule}
        line["detail"] = refusal.detail
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(line, sort_keys=True) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        """Every refusal recorded so far, oldest first (``[]`` when none)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
