"""The node's PeerTube, in one object: what the daemon calls each round.

Each round the daemon calls :meth:`PeerTubeSource.refresh` (new and changed signal rows
since the last read, and rows deleted in PeerTube forgotten), trains on
:meth:`PeerTubeSource.interactions`, and after the round publishes, builds the serving
snapshot with :meth:`PeerTubeSource.snapshot` (which adds the instance's local users and
what each has seen, and PeerTube's content rules, :mod:`mpcrec.data.peertube_rules`,
read afresh each time) and hands it to :meth:`Recommender.publish`.

Each refresh also reads who is never trained on (:mod:`mpcrec.data.peertube_consent`:
users who opted out in the plugin, users whose PeerTube history is disabled), first, so a
refresh that fails half-way never leaves an opt-out unread; :meth:`interactions` leaves
their signals out.

The log lives in memory: on start the first refresh reads everything again (one full
read of three tables), which keeps the node's disk free of its users' histories.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy.typing as npt
import psycopg

from mpcrec.data.interactions import Interactions
from mpcrec.data.peertube import PeerTubeReader, Video, Watermark
from mpcrec.data.peertube_consent import TrainingExclusions
from mpcrec.data.peertube_log import InteractionLog
from mpcrec.data.peertube_rules import ContentRules, read_content_rules
from mpcrec.data.peertube_settings import PeerTubeSettings
from mpcrec.errors import DataError
from mpcrec.node.recommender import ModelSnapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refresh:
    """What one :meth:`PeerTubeSource.refresh` changed."""

    changed: int
    forgotten: int
    events: int
    local_users: int
    excluded: int = 0  # users left out of training (opted out or history disabled)


class PeerTubeSource:
    """Signals of the instance's users, kept up to date from PeerTube's database."""

    def __init__(self, settings: PeerTubeSettings) -> None:
        self.settings = settings
        self.reader = PeerTubeReader(settings.dsn, settle_seconds=settings.settle_seconds)
        self.log = InteractionLog()
        self.watermark: Watermark | None = None
        self.local_users: frozenset[int] = frozenset()
        self.rules = ContentRules()
        self.exclusions = TrainingExclusions()

    def check(self) -> None:
        """Fail early, with a clear :class:`~mpcrec.errors.DataError`, if PeerTube is unusable."""
        self.reader.check()

    def refresh(self) -> Refresh:
        """Read who must not be trained on, what changed since the last refresh, and forget
        rows PeerTube deleted."""
        self.exclusions = self.reader.read_training_exclusions()
        delta = self.reader.read_since(self.watermark)
        changed = self.log.apply(delta.events)
        forgotten = self.log.retain(self.reader.read_present_rows())
        self.watermark = delta.watermark
        self.local_users = self.reader.read_local_users()
        excluded = len(self.exclusions.users)
        return Refresh(changed, forgotten, len(self.log), len(self.local_users), excluded)

    def catalogue(self) -> tuple[Video, ...]:
        """The public videos this instance knows, local and federated."""
        return self.reader.read_catalogue()

    def content_rules(self) -> ContentRules:
        """PeerTube's content rules now; the last ones read if PeerTube cannot be read."""
        try:
            with self.reader.snapshot() as cur:
                self.rules = read_content_rules(cur)
        except (DataError, psycopg.Error) as err:
            log.warning("PeerTube's content rules not read, using the previous ones: %s", err)
        return self.rules

    def interactions(self, catalogue: Sequence[str] | None = None) -> Interactions:
        """The training table (weights from the settings; see :mod:`mpcrec.data.peertube_log`),
        without the users who must not be trained on."""
        return self.log.to_interactions(
            self.settings.weights, catalogue=catalogue, exclude_users=self.exclusions.users
        )

    def snapshot(
        self,
        *,
        version: str,
        item_urls: Sequence[str],
        item_uuids: Sequence[str],
        item_embeddings: npt.ArrayLike,
        user_embeddings: Mapping[int, npt.ArrayLike],
        popularity: npt.ArrayLike,
    ) -> ModelSnapshot:
        """The serving snapshot of a published model: this instance's users, their history
        and PeerTube's content rules (muted accounts and instances count as seen)."""
        rules = self.content_rules()
        seen = {u: set(urls) for u, urls in self.log.seen().items()}
        for user, muted in rules.hidden_for_user.items():
            seen.setdefault(user, set()).update(muted)
        return ModelSnapshot.build(
            version=version,
            item_urls=item_urls,
            item_uuids=item_uuids,
            item_embeddings=item_embeddings,
            user_embeddings=user_embeddings,
            popularity=popularity,
            local_users=self.local_users,
            seen=seen,
            hidden=rules.hidden,
            nsfw=rules.nsfw,
            shows_nsfw=rules.shows_nsfw,
        )
