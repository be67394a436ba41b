"""Where a video's :class:`~mpcrec.model.content.ContentFields` come from: MovieLens, PeerTube.

MovieLens 100k (``ml-100k.item``): genres are the tags, the title is the title, the release
year the publication year; MovieLens has no category, language, licence, channel or account.

PeerTube: any record with the public fields of :class:`PublicVideo`, i.e. the catalogue's
video rows (``video.name``, ``video.category``, ``video.licence``, ``video.language``,
``video.publishedAt``, the ``tag.name`` of its tags through ``videoTag``, its channel's
``videoChannel.name`` and that channel's ``account.name``): what PeerTube shows on a public
video's page and its API publishes, read only for public, published videos. Nothing about
who watched it; ``url``, ``uuid`` and ``duration`` are not features.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from mpcrec.data.interactions import ItemMeta
from mpcrec.data.movielens import UNKNOWN_YEAR
from mpcrec.model.content import ContentFields, content_rows, featurise
from mpcrec.model.mf import Matrix


class PublicVideo(Protocol):
    """The public metadata of a PeerTube video (the catalogue's video record has it)."""

    @property
    def name(self) -> str: ...
    @property
    def tags(self) -> tuple[str, ...]: ...
    @property
    def category(self) -> int | None: ...
    @property
    def licence(self) -> int | None: ...
    @property
    def language(self) -> str | None: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def account(self) -> str | None: ...
    @property
    def published_at(self) -> float | None: ...


def movielens_fields(items: Sequence[ItemMeta]) -> list[ContentFields]:
    """MovieLens items as content fields (an unknown release year stays unknown)."""
    return [
        ContentFields(
            title=item.title,
            tags=item.tags,
            year=None if item.published == UNKNOWN_YEAR else int(item.published),
        )
        for item in items
    ]


def peertube_fields(video: PublicVideo) -> ContentFields:
    """One public PeerTube video as content fields (empty names and time 0 mean unset)."""
    year = None
    if video.published_at:
        year = datetime.fromtimestamp(video.published_at, tz=UTC).year
    return ContentFields(
        title=video.name,
        tags=tuple(sorted(video.tags)),
        category=video.category,
        licence=video.licence,
        language=video.language or None,
        channel=video.channel or None,
        account=video.account or None,
        year=year,
    )


def peertube_features(videos: Sequence[PublicVideo], n_features: int) -> Matrix:
    """Feature rows of PeerTube videos (for :func:`~mpcrec.model.content.content_rows`)."""
    return featurise([peertube_fields(v) for v in videos], n_features)


def new_video_rows(videos: Sequence[PublicVideo], content_map: Matrix) -> Matrix:
    """Initial model rows of videos new to the catalogue: their content rows ``F W``.

    The hook of a growing model: the map's first dimension fixes the hashed feature count.
    """
    return content_rows(peertube_features(videos, content_map.shape[0]), content_map)
