"""At most one contribution per base model version (``model-reused``).

Two models revealed from one base model differ by the contributions that differ between the
two rounds: a launcher that aborts a round after the reveal and runs it again without one
contributor reads that contributor's update off the difference. So a node contributes at
most once per base model version to a round that reached computing with its contribution
frozen. It records each upload in ``<state_dir>/contributed.json`` before sending it, and
forgets it only when it sees that round aborted without its contribution frozen (an abort
while collecting: nothing was computed). A round whose end it never saw (the node was down)
stays counted: the safe side. The rule applies to rounds without noise: with a noise
multiplier above zero every revealed round is counted in ε (published or not), so a rerun
is paid for in the privacy budget instead of being refused, and an abort while computing
does not stall the federation. ``privacy_floor: {allow_model_reuse: true}`` opts out (fault
tests); docs/threat-model.md says what this costs in liveness.
"""

from __future__ import annotations

import json
from pathlib import Path

from mpcrec.federation.announcement import Phase, RoundAnnouncement
from mpcrec.files import write_atomic
from mpcrec.node.round_refusal import RoundRefused

CONTRIBUTED_FILE = "contributed.json"


class ContributedModels:
    """The base model versions this node contributed to, with the round (persisted)."""

    def __init__(self, state_dir: Path, instance_id: str) -> None:
        self.path = Path(state_dir) / CONTRIBUTED_FILE
        self.instance_id = instance_id
        raw = json.loads(self.path.read_text(encoding="utf-8")) if self.path.exists() else {}
        self._rounds = {int(version): int(rnd) for version, rnd in raw.items()}

    def check(self, ann: RoundAnnouncement) -> None:
        """Refuse to contribute to ``ann`` if its base model was contributed to already."""
        earlier = self._rounds.get(ann.model_version)
        if earlier is not None and earlier != ann.round_id:
            raise RoundRefused(
                "model-reused",
                f"already contributed to model v{ann.model_version} in round {earlier}",
                hint="privacy_floor: {allow_model_reuse: true} contributes again (tests only)",
            )

    def record(self, ann: RoundAnnouncement) -> None:
        """Count a contribution to ``ann`` (before it is sent)."""
        self._rounds[ann.model_version] = ann.round_id
        self._save()

    def release(self, ann: RoundAnnouncement) -> None:
        """Forget the contribution to an aborted ``ann`` that never froze it."""
        aborted = ann.phase is Phase.ABORTED and self.instance_id not in ann.contributors
        if aborted and self._rounds.get(ann.model_version) == ann.round_id:
            del self._rounds[ann.model_version]
            self._save()

    def _save(self) -> None:
        data = {str(v): r for v, r in sorted(self._rounds.items())}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, json.dumps(data, sort_keys=True).encode("utf-8"))
