"""The SQL of :class:`~mpcrec.data.peertube.PeerTubeReader`: signals, present rows, catalogue.

Signal queries are keyed by their table (a :class:`~mpcrec.data.peertube.Source` value);
each returns ``id, userId, updatedAt, type, video.url, video.uuid`` after a watermark, with
the owner resolved to a local user (``account.userId``) and public videos only.
"""

from __future__ import annotations

from collections.abc import Mapping

PUBLIC = 1  # video.privacy of public videos (VideoPrivacy.PUBLIC)
PUBLISHED = 1  # video.state of published videos (VideoState.PUBLISHED)

# After (updatedAt, id) of the watermark, up to now() - settle, public videos only, in order.
_WINDOW = (
    'AND (%(at)s::timestamptz IS NULL OR (s."updatedAt", s."id") > (%(at)s::timestamptz, %(row)s))'
    ' AND s."updatedAt" <= %(until)s AND v."privacy" = %(public)s'
    ' ORDER BY s."updatedAt", s."id"'
)
SIGNAL_QUERIES: Mapping[str, str] = {
    "userVideoHistory": (
        'SELECT s."id", s."userId", s."updatedAt", NULL, v."url", v."uuid" '
        'FROM "userVideoHistory" s JOIN "video" v ON v."id" = s."videoId" WHERE TRUE ' + _WINDOW
    ),
    "accountVideoRate": (
        'SELECT s."id", a."userId", s."updatedAt", s."type"::text, v."url", v."uuid" '
        'FROM "accountVideoRate" s JOIN "account" a ON a."id" = s."accountId" '
        'JOIN "video" v ON v."id" = s."videoId" WHERE a."userId" IS NOT NULL ' + _WINDOW
    ),
    "videoPlaylistElement": (
        'SELECT s."id", a."userId", s."updatedAt", NULL, v."url", v."uuid" '
        'FROM "videoPlaylistElement" s '
        'JOIN "videoPlaylist" p ON p."id" = s."videoPlaylistId" '
        'JOIN "account" a ON a."id" = p."ownerAccountId" '
        'JOIN "video" v ON v."id" = s."videoId" WHERE a."userId" IS NOT NULL ' + _WINDOW
    ),
}
PRESENT_QUERIES: Mapping[str, str] = {
    "userVideoHistory": 'SELECT "id" FROM "userVideoHistory"',
    "accountVideoRate": (
        'SELECT r."id" FROM "accountVideoRate" r JOIN "account" a ON a."id" = r."accountId" '
        'WHERE a."userId" IS NOT NULL'
    ),
    "videoPlaylistElement": (
        'SELECT e."id" FROM "videoPlaylistElement" e '
        'JOIN "videoPlaylist" p ON p."id" = e."videoPlaylistId" '
        'JOIN "account" a ON a."id" = p."ownerAccountId" '
        'WHERE a."userId" IS NOT NULL AND e."videoId" IS NOT NULL'
    ),
}
CATALOGUE_QUERY = (
    'SELECT v."uuid", v."url", v."name", v."remote", v."publishedAt", '
    'COALESCE(array_agg(t."name") FILTER (WHERE t."name" IS NOT NULL), \'{}\') '
    'FROM "video" v LEFT JOIN "videoTag" vt ON vt."videoId" = v."id" '
    'LEFT JOIN "tag" t ON t."id" = vt."tagId" '
    'WHERE v."privacy" = %(public)s AND v."state" = %(published)s '
    'GROUP BY v."id" ORDER BY v."id"'
)
# What one full read would return, counted in the database (``mpcrec peertube check``):
# (kind, rows, distinct users) per signal kind, and a total row (kind NULL) by ROLLUP.
SIGNAL_COUNT_QUERY = (
    "WITH s AS ("
    'SELECT \'watch\' AS "kind", s."userId" AS "user" FROM "userVideoHistory" s '
    'JOIN "video" v ON v."id" = s."videoId" '
    'WHERE v."privacy" = %(public)s AND s."updatedAt" <= %(until)s '
    'UNION ALL SELECT s."type"::text, a."userId" FROM "accountVideoRate" s '
    'JOIN "account" a ON a."id" = s."accountId" JOIN "video" v ON v."id" = s."videoId" '
    'WHERE a."userId" IS NOT NULL AND v."privacy" = %(public)s AND s."updatedAt" <= %(until)s '
    'UNION ALL SELECT \'playlist\', a."userId" FROM "videoPlaylistElement" s '
    'JOIN "videoPlaylist" p ON p."id" = s."videoPlaylistId" '
    'JOIN "account" a ON a."id" = p."ownerAccountId" JOIN "video" v ON v."id" = s."videoId" '
    'WHERE a."userId" IS NOT NULL AND v."privacy" = %(public)s AND s."updatedAt" <= %(until)s'
    ') SELECT "kind", COUNT(*), COUNT(DISTINCT "user") FROM s GROUP BY ROLLUP ("kind")'
)
CATALOGUE_COUNT_QUERY = (
    'SELECT COUNT(*), COUNT(*) FILTER (WHERE v."remote") FROM "video" v '
    'WHERE v."privacy" = %(public)s AND v."state" = %(published)s'
)
