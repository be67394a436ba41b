"""Where a video's :class:`~mpcrec.model.content.ContentFields` come from: MovieLens, PeerTube.

MovieLens 100k (``ml-100k.item``): genres are the tags, the title is the title, the release
year the publication year; MovieLens has no category, language, licence, channel or account.

PeerTube: one row of :data:`~mpcrec.data.peertube_content.CONTENT_QUERY`, the public
columns ``video.name``, ``video.category``, ``video.licence``, ``video.language``,
``video.publishedAt``, the video's ``tag.name`` (through ``videoTag``), its channel's
``videoChannel.name`` and that channel's ``account.name``: everything PeerTube shows on a
public video's page, nothing about who watched it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from mpcrec.data.interactions import ItemMeta
from mpcrec.data.movielens import UNKNOWN_YEAR
from mpcrec.data.peertube_content import ContentRow
from mpcrec.model.content import ContentFields


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


def peertube_fields(row: ContentRow) -> ContentFields:
    """One public PeerTube video (a :class:`~mpcrec.data.peertube_content.ContentRow`)."""
    year = None
    if row.published_at is not None:
        year = datetime.fromtimestamp(row.published_at, tz=UTC).year
    return ContentFields(
        title=row.name,
        tags=tuple(sorted(row.tags)),
        category=row.category,
        licence=row.licence,
        language=row.language,
        channel=row.channel,
        account=row.account,
        year=year,
    )
