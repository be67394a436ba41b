"""A hostile launcher's lies about the catalogue (docs/catalogue.md, "What a hostile launcher
can and cannot do"), one per round, against real node processes.

The drift nodes of the harness export no catalogue, so the launcher itself submits an
instance's export (as if ``tube-0`` had sent it) before round 1 opens: version 1, 12 rows,
signed honestly. Round 1 names it and must publish (the control: every node fetched and
verified an honest version). When it publishes, a second export is submitted (two new
videos, one retired): version 2 is merged and signed honestly when the next round opens,
and from then on the launcher lies about it, one lie per round in :data:`STAGES`:

``repoint-row``
    FetchCatalogue serves version 2 with its first new row re-pointed to another URL (the
    header, hashes and signed entry untouched);
``rehashed-chain``
    serves a self-consistent version 2 over other rows (diff and hash recomputed, so it
    extends version 1), with the signed entry of the real one (it did not sign this one);
``announce-hash``
    serves the real version 2, but announces the round with another catalogue hash;
``announce-rows``
    announces the real hash with one row more than version 2 has, and names that row count
    in the round's signed ``round_open`` too (a model row no catalogue row backs);
``pad-rows``
    serves the round's base model (the control round's, 12 rows) padded with rows of its
    own to one row more than version 2 has (15), announcing the padded model's hash: every
    hash the nodes compare agrees, only the row count and the committee's signatures do not;
``forge-rows``
    the same padded to exactly version 2's 14 rows: the two new rows are the launcher's
    values instead of the public content rule's, and no row count can tell (only the
    committee's signatures, ``model-unsigned``, :mod:`mpcrec.node.model_provenance`);

then every later round is honest (the federation recovers: the nodes take version 2 and
the real base). The two model lies go through the harness's ``stored_model`` hook, so the
launcher's own checks of the members' results run on the padded base too.
What it served is written to ``served/<stage>/v%08d.jsonl`` beside ``learned.json``, so an
auditor can check those copies against the log (``mpcrec catalogue verify``); which
rounds got which lie is ``learned["catalogue_stages"]``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np

from launch.round import Phase, Round
from mpcrec.data.catalogue import VideoRecord, decode_diff, encode_diff, make_diff
from mpcrec.data.catalogue_merge import InstanceExport
from mpcrec.data.catalogue_store import version_file
from mpcrec.federation.announcement import RoundAnnouncement
from mpcrec.federation.published_model import PublishedModel
from tests.adversarial.hooks import Attack

STAGES = (
    "repoint-row",
    "rehashed-chain",
    "announce-hash",
    "announce-rows",
    "pad-rows",
    "forge-rows",
)
#: The lies about the base model (the others are about the catalogue) and the rows each
#: padded base has beyond the control model's 12: version 2 has 14 rows.
MODEL_STAGES = {"pad-rows": 3, "forge-rows": 2}
PADDING = 5.0  # the value of every row the launcher pads with
FIRST_ROWS = 12  # the harness model's n_items: version 1 covers every model row
OWNER = "tube-0"


def video(k: int) -> VideoRecord:
    return VideoRecord(
        f"https://tube-0.example/videos/watch/{k:04d}", uuid=f"{k:036d}", name=f"video {k}"
    )


class CatalogueLies(Attack):
    """The lies of the module docstring, one per round after the control round."""

    name = "catalogue-lies"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seeded = 0  # exports submitted so far
        self.stage_of: dict[int, str] = {}  # attacked round -> its lie
        self.current = ""  # the lie of the round open now ("": honest)
        self.base_version = -1  # the base model of the round open now

    # -- seeding an honest catalogue -------------------------------------------------------

    def save(self, launcher: Any, rnd: Round) -> Round:
        if rnd.phase is Phase.OPEN:
            if self.seeded == 0:
                videos = tuple(video(k) for k in range(FIRST_ROWS))
                launcher.catalogue.submit(InstanceExport(OWNER, videos))
                self.seeded = 1
            if self.seeded == 2 and rnd.round_id not in self.stage_of:
                done = len(self.stage_of)
                self.current = STAGES[done] if done < len(STAGES) else ""
                self.base_version = rnd.model_version
                self.stage_of[rnd.round_id] = self.current
                self.learned.add("catalogue_stages", [rnd.round_id, self.current])
        elif rnd.phase is Phase.PUBLISHED and self.seeded == 1:
            kept = tuple(video(k) for k in range(FIRST_ROWS + 2) if k != 3)  # 2 new, 1 retired
            launcher.catalogue.submit(InstanceExport(OWNER, kept))
            self.seeded = 2
        return rnd

    # -- the lies -----------------------------------------------------------------------------

    def catalogue_since(
        self, catalogue: Any, since: int, versions: list[tuple[int, bytes, bytes]]
    ) -> list[tuple[int, bytes, bytes]]:
        """What FetchCatalogue serves (``(version, file bytes, signed entry)``)."""
        if self.current not in ("repoint-row", "rehashed-chain"):
            return versions
        out = []
        for version, data, entry in versions:
            if version == 2:
                data = self._tampered(data)
                self._keep(catalogue, data)
            out.append((version, data, entry))
        return out

    def _tampered(self, data: bytes) -> bytes:
        diff = decode_diff(data)
        if self.current == "repoint-row":
            lines = list(diff.lines)
            lines[0] = lines[0].replace(b"tube-0.example", b"evil.example", 1)
            return encode_diff(dataclasses.replace(diff, lines=tuple(lines)))
        header = diff.header  # a consistent version 2 over other rows
        others = [
            VideoRecord(f"https://evil.example/videos/watch/{k}", instance=OWNER)
            for k in range(len(diff.lines))
        ]
        forged = make_diff(
            version=2,
            previous=header.previous,
            first_row=header.first_row,
            retired_before=header.retired - len(header.new_retired),
            records=others,
            new_retired=header.new_retired,
        )
        return encode_diff(forged)

    def _keep(self, catalogue: Any, served: bytes) -> None:
        """Keep the copy a node was served (the honest version 1, the lie as version 2)."""
        where = self.learned.path.parent / "served" / self.current
        where.mkdir(parents=True, exist_ok=True)
        version_file(where, 1).write_bytes(catalogue.files.raw(1))
        version_file(where, 2).write_bytes(served)
        digest = hashlib.sha256(served).hexdigest()
        self.learned.add("served", {"stage": self.current, "sha256": digest})

    def announce(self, launcher: Any, ann: RoundAnnouncement) -> RoundAnnouncement:
        stage = self.stage_of.get(ann.round_id, "")
        if stage == "announce-hash" and ann.catalogue_version == 2:
            return dataclasses.replace(ann, catalogue_hash=hashlib.sha256(b"other").digest())
        if stage == "announce-rows" and ann.catalogue_version == 2:
            return dataclasses.replace(ann, catalogue_rows=ann.catalogue_rows + 1)
        return ann

    def stored_model(self, launcher: Any, model: PublishedModel) -> PublishedModel:
        """The base of a model-lie round, padded (the launcher's store says so)."""
        extra = MODEL_STAGES.get(self.current, 0)
        if not extra or model.version != self.base_version:
            return model
        pad = np.full((extra, model.dim), PADDING)
        padded = PublishedModel.from_array(model.version, np.vstack([model.array(), pad]))
        item = {"stage": self.current, "rows": padded.n_items, "sha256": padded.model_hash.hex()}
        if item not in self.learned.data.get("padded", []):
            self.learned.add("padded", item)
        return padded

    def opening(self, catalogue: Any, rnd: Round, named: dict[str, int] | None) -> Any:
        """What the round's ``round_open`` names (``catalogue_version``, ``rows``)."""
        if named is not None and self.stage_of.get(rnd.round_id) == "announce-rows":
            found = catalogue.in_force(rnd.round_id)
            return {**named, "rows": int(found["rows"]) + 1}
        return named


def catalogue_attacks() -> dict[str, type[Attack]]:
    """The attacks of this module by name (registered in :data:`attacks.ATTACKS`)."""
    return {CatalogueLies.name: CatalogueLies}
