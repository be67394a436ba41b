"""The node's running picture of its users' PeerTube signals, and the training table made from it.

An :class:`InteractionLog` holds the latest version of every signal row read from
PeerTube (keyed by table and row id, so a re-read row replaces itself: a like turned into
a dislike, a video watched again). :meth:`InteractionLog.to_interactions` turns it into
one :class:`~mpcrec.data.interactions.Interactions` row per (user, video):

- the weight is the sum of the positive signals present, each counted once (by default
  watch 1, playlist 1.5, like 2: a like is the strongest sign of interest PeerTube
  records, saving for later comes next, a watch may be a click that disappointed);
- a dislike removes the pair from the training table. Negative weights would break the
  implicit-feedback losses (BPR, weighted MSE with sampled negatives) and the clipping
  bounds of the federated update, which all assume non-negative confidence; the video
  still counts as *seen*, so it is never recommended to that user (:meth:`seen`);
- the time is the latest signal's.

Users are named by their PeerTube user id (as a decimal string), videos by ``video.url``;
:meth:`InteractionLog.video_uuids` keeps the uuid of every URL.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from mpcrec.data.interactions import Interactions
from mpcrec.data.peertube import Event, Signal, Source


@dataclass(frozen=True)
class SignalWeights:
    """Implicit-feedback weight of each positive signal (dislikes are never positive)."""

    watch: float = 1.0
    like: float = 2.0
    playlist: float = 1.5

    def of(self, signal: Signal) -> float:
        """The weight of ``signal`` (0 for a dislike)."""
        return {
            Signal.WATCH: self.watch,
            Signal.LIKE: self.like,
            Signal.PLAYLIST: self.playlist,
        }.get(signal, 0.0)


class InteractionLog:
    """The latest event of every PeerTube signal row the node has read."""

    def __init__(self) -> None:
        self._events: dict[tuple[Source, int], Event] = {}

    def __len__(self) -> int:
        return len(self._events)

    def events(self) -> tuple[Event, ...]:
        """Every event held, one per PeerTube row."""
        return tuple(self._events.values())

    def apply(self, events: Iterable[Event]) -> int:
        """Add or replace events (by table and row id); returns how many changed."""
        changed = 0
        for event in events:
            key = (event.source, event.row_id)
            if self._events.get(key) != event:
                self._events[key] = event
                changed += 1
        return changed

    def retain(self, present: set[tuple[Source, int]]) -> int:
        """Forget rows no longer in PeerTube (history cleared, like removed); returns how many."""
        gone = [key for key in self._events if key not in present]
        for key in gone:
            del self._events[key]
        return len(gone)

    def video_uuids(self) -> dict[str, str]:
        """``video.uuid`` of every video URL in the log."""
        return {e.video_url: e.video_uuid for e in self._events.values()}

    def seen(self) -> dict[int, frozenset[str]]:
        """Video URLs each user watched, rated (either way) or saved: never to recommend."""
        seen: dict[int, set[str]] = {}
        for event in self._events.values():
            seen.setdefault(event.user_id, set()).add(event.video_url)
        return {user: frozenset(urls) for user, urls in seen.items()}

    def to_interactions(
        self,
        weights: SignalWeights | None = None,
        *,
        catalogue: Sequence[str] | None = None,
        exclude_users: Collection[int] = (),
    ) -> Interactions:
        """One row per (user, video) with a positive signal and no dislike (module docstring).

        ``catalogue`` (video URLs, e.g. the federation's item list) fixes the item set
        (:meth:`Interactions.from_columns` orders it); pairs whose video is not in it are
        left out, and so is every signal of the users in ``exclude_users`` (never trained
        on: :mod:`mpcrec.data.peertube_consent`).
        """
        w = weights or SignalWeights()
        excluded = frozenset(exclude_users)
        pairs: dict[tuple[int, str], tuple[set[Signal], float]] = {}
        for event in self._events.values():
            if event.user_id in excluded:
                continue
            signals, at = pairs.setdefault((event.user_id, event.video_url), (set(), 0.0))
            signals.add(event.signal)
            pairs[(event.user_id, event.video_url)] = (signals, max(at, event.at))
        known = None if catalogue is None else set(catalogue)
        rows = sorted(
            (user, at, url, sum(w.of(s) for s in signals))
            for (user, url), (signals, at) in pairs.items()
            if Signal.DISLIKE not in signals and (known is None or url in known)
        )
        return Interactions.from_columns(
            [str(r[0]) for r in rows],
            [r[2] for r in rows],
            [r[1] for r in rows],
            weights=[r[3] for r in rows],
            catalogue=catalogue,
        )
