"""The public metadata of an instance's videos, for content embeddings (read-only SQL).

:data:`CONTENT_QUERY` reads, for every public and published video (``video.privacy = 1``,
``video.state = 1``), only columns PeerTube itself shows on the video's public page:
``video.url``, ``name``, ``category``, ``licence``, ``language``, ``publishedAt``, the
``tag.name`` of its tags, its channel's ``videoChannel.name`` and that channel's
``account.name``. No user table, no history, no private video. The columns it needs beyond
:data:`~mpcrec.data.peertube_grants.REQUIRED_COLUMNS` are :data:`CONTENT_COLUMNS` (grant
them for content features). :func:`content_rows_from` parses the query's rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

CONTENT_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "video": ("url", "name", "category", "licence", "language", "publishedAt", "channelId"),
    "videoTag": ("videoId", "tagId"),
    "tag": ("id", "name"),
    "videoChannel": ("id", "name", "accountId"),
    "account": ("id", "name"),
}
CONTENT_QUERY = (
    'SELECT v."url", v."name", v."category", v."licence", v."language", v."publishedAt", '
    'COALESCE(array_agg(t."name") FILTER (WHERE t."name" IS NOT NULL), \'{}\'), '
    'c."name", a."name" '
    'FROM "video" v JOIN "videoChannel" c ON c."id" = v."channelId" '
    'JOIN "account" a ON a."id" = c."accountId" '
    'LEFT JOIN "videoTag" vt ON vt."videoId" = v."id" '
    'LEFT JOIN "tag" t ON t."id" = vt."tagId" '
    'WHERE v."privacy" = %(public)s AND v."state" = %(published)s '
    'GROUP BY v."id", c."name", a."name" ORDER BY v."id"'
)


@dataclass(frozen=True)
class ContentRow:
    """One public video's metadata as :data:`CONTENT_QUERY` returns it."""

    url: str
    name: str
    category: int | None
    licence: int | None
    language: str | None
    published_at: float | None  # seconds since the epoch
    tags: tuple[str, ...]
    channel: str | None
    account: str | None


def content_rows_from(rows: Iterable[tuple[Any, ...]]) -> list[ContentRow]:
    """Parse :data:`CONTENT_QUERY`'s rows (``publishedAt`` a datetime, tags an array)."""
    out = []
    for url, name, category, licence, language, published, tags, channel, account in rows:
        at = published.timestamp() if isinstance(published, datetime) else published
        out.append(
            ContentRow(
                url=str(url),
                name=str(name),
                category=None if category is None else int(category),
                licence=None if licence is None else int(licence),
                language=language,
                published_at=None if at is None else float(at),
                tags=tuple(sorted(str(t) for t in tags)),
                channel=channel,
                account=account,
            )
        )
    return out
