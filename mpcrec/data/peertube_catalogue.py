"""An instance's contribution to the federation's catalogue, read from PeerTube's PostgreSQL.

Two reads, in one read-only snapshot (:meth:`~mpcrec.data.peertube.PeerTubeReader.snapshot`):

- the instance's **own** videos (``video.remote = false``) that are public
  (``privacy = 1``) and published (``state = 1``), with what PeerTube's API publishes about
  each: url, uuid, name, tags, category, language, licence, channel and account (their
  display names), duration and ``publishedAt``;
- the **URLs** of public remote videos its local users watched, liked or saved: a URL
  alone, no user, no count, no time.

No user data leaves in either: the export is a set of public videos and a set of public
URLs (:class:`~mpcrec.data.catalogue_merge.InstanceExport`).
"""

from __future__ import annotations

from mpcrec.data.catalogue import VideoRecord
from mpcrec.data.catalogue_merge import InstanceExport
from mpcrec.data.peertube import PeerTubeReader
from mpcrec.data.peertube_queries import PUBLIC, PUBLISHED

LOCAL_VIDEOS = (
    'SELECT v."url", v."uuid", v."name", '
    'COALESCE(array_agg(t."name") FILTER (WHERE t."name" IS NOT NULL), \'{}\'), '
    'v."category", v."language", v."licence", COALESCE(c."name", \'\'), '
    'COALESCE(a."name", \'\'), v."duration", v."publishedAt" '
    'FROM "video" v LEFT JOIN "videoChannel" c ON c."id" = v."channelId" '
    'LEFT JOIN "account" a ON a."id" = c."accountId" '
    'LEFT JOIN "videoTag" vt ON vt."videoId" = v."id" LEFT JOIN "tag" t ON t."id" = vt."tagId" '
    'WHERE v."remote" = false AND v."privacy" = %(public)s AND v."state" = %(published)s '
    'GROUP BY v."id", c."name", a."name" ORDER BY v."url"'
)
_LOCAL_OWNER = 'JOIN "account" o ON o."id" = {owner} AND o."userId" IS NOT NULL'
REMOTE_URLS = (
    'SELECT DISTINCT v."url" FROM "video" v WHERE v."remote" = true '
    'AND v."privacy" = %(public)s AND v."state" = %(published)s AND ('
    'EXISTS (SELECT 1 FROM "userVideoHistory" h WHERE h."videoId" = v."id") OR '
    'EXISTS (SELECT 1 FROM "accountVideoRate" r '
    + _LOCAL_OWNER.format(owner='r."accountId"')
    + ' WHERE r."videoId" = v."id") OR '
    'EXISTS (SELECT 1 FROM "videoPlaylistElement" e '
    'JOIN "videoPlaylist" p ON p."id" = e."videoPlaylistId" '
    + _LOCAL_OWNER.format(owner='p."ownerAccountId"')
    + ' WHERE e."videoId" = v."id")) ORDER BY v."url"'
)


def read_export(reader: PeerTubeReader, instance: str) -> InstanceExport:
    """The instance's catalogue export (module docstring), as ``instance``."""
    params = {"public": PUBLIC, "published": PUBLISHED}
    with reader.snapshot() as cur:
        cur.execute(LOCAL_VIDEOS, params)
        videos = tuple(
            VideoRecord(
                url=str(r[0]),
                uuid=str(r[1]),
                name=str(r[2]),
                tags=tuple(sorted(r[3])),
                category=r[4],
                language=r[5],
                licence=r[6],
                channel=str(r[7]),
                account=str(r[8]),
                duration=int(r[9]),
                published_at=int(r[10].timestamp()),
                instance=instance,
            )
            for r in cur.fetchall()
        )
        cur.execute(REMOTE_URLS, params)
        remote = tuple(str(r[0]) for r in cur.fetchall())
    return InstanceExport(instance, videos, remote)
