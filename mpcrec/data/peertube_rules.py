"""PeerTube's content rules, read at serving time: which videos must never be recommended.

Read with the read-only role, in the same consistent snapshot as the rest of a read
(:meth:`mpcrec.data.peertube.PeerTubeReader.snapshot`), each time the node builds what it
serves. Videos are named by their ActivityPub URL (``video.url``), as in the catalogue.

For everyone (:attr:`ContentRules.hidden`):

- not public or not published (``video.privacy <> 1`` or ``video.state <> 1``): a video
  that became private, unlisted or was unpublished since the catalogue was made;
- blocked by the instance's moderators (a ``videoBlacklist`` row);
- owned by an account, or served from an instance, that the instance itself muted
  (``accountBlocklist`` / ``serverBlocklist`` rows of the server's own account, the one
  with ``account.applicationId`` set).

For one user (:attr:`ContentRules.hidden_for_user`): videos of accounts or instances that
user muted (their own ``accountBlocklist`` / ``serverBlocklist`` rows).

NSFW (:attr:`ContentRules.nsfw`): NSFW videos are left out for users whose
``nsfwPolicy`` is ``do_not_list`` and for anonymous viewers (PeerTube's default policy);
:attr:`ContentRules.shows_nsfw` are the users whose policy lists them (``display`` or
``blur``). Videos a user already watched are left out by the snapshot's ``seen``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg

from mpcrec.data.peertube_queries import PUBLIC, PUBLISHED

_OWNER = (
    'FROM "video" v JOIN "videoChannel" c ON c."id" = v."channelId" '
    'LEFT JOIN "actor" o ON o."accountId" = c."accountId" '
)
HIDDEN_QUERY = (
    'SELECT v."url" FROM "video" v '
    'LEFT JOIN "videoChannel" c ON c."id" = v."channelId" '
    'LEFT JOIN "actor" o ON o."accountId" = c."accountId" '
    'WHERE v."privacy" <> %(public)s OR v."state" <> %(published)s '
    'OR EXISTS (SELECT 1 FROM "videoBlacklist" b WHERE b."videoId" = v."id") '
    'OR EXISTS (SELECT 1 FROM "accountBlocklist" ab JOIN "account" s ON s."id" = ab."accountId" '
    'WHERE s."applicationId" IS NOT NULL AND ab."targetAccountId" = c."accountId") '
    'OR EXISTS (SELECT 1 FROM "serverBlocklist" sb JOIN "account" s ON s."id" = sb."accountId" '
    'WHERE s."applicationId" IS NOT NULL AND sb."targetServerId" = o."serverId")'
)
HIDDEN_FOR_USER_QUERY = (
    'SELECT a."userId", v."url" ' + _OWNER + 'JOIN "accountBlocklist" ab '
    'ON ab."targetAccountId" = c."accountId" JOIN "account" a ON a."id" = ab."accountId" '
    'WHERE a."userId" IS NOT NULL '
    'UNION SELECT a."userId", v."url" ' + _OWNER + 'JOIN "serverBlocklist" sb '
    'ON sb."targetServerId" = o."serverId" JOIN "account" a ON a."id" = sb."accountId" '
    'WHERE a."userId" IS NOT NULL'
)
NSFW_QUERY = 'SELECT v."url" FROM "video" v WHERE v."nsfw"'
SHOWS_NSFW_QUERY = 'SELECT u."id" FROM "user" u WHERE u."nsfwPolicy" IN (\'display\', \'blur\')'


@dataclass(frozen=True)
class ContentRules:
    """What must not be recommended, as video URLs (see the module docstring)."""

    hidden: frozenset[str] = frozenset()
    hidden_for_user: dict[int, frozenset[str]] = field(default_factory=dict)
    nsfw: frozenset[str] = frozenset()
    shows_nsfw: frozenset[int] = frozenset()


def read_content_rules(cur: psycopg.Cursor[tuple[Any, ...]]) -> ContentRules:
    """The instance's content rules, read through ``cur`` (four queries)."""
    cur.execute(HIDDEN_QUERY, {"public": PUBLIC, "published": PUBLISHED})
    hidden = frozenset(str(url) for (url,) in cur.fetchall())
    cur.execute(HIDDEN_FOR_USER_QUERY)
    per_user: dict[int, set[str]] = defaultdict(set)
    for user_id, url in cur.fetchall():
        per_user[int(user_id)].add(str(url))
    cur.execute(NSFW_QUERY)
    nsfw = frozenset(str(url) for (url,) in cur.fetchall())
    cur.execute(SHOWS_NSFW_QUERY)
    shows = frozenset(int(user_id) for (user_id,) in cur.fetchall())
    return ContentRules(
        hidden=hidden,
        hidden_for_user={u: frozenset(urls) for u, urls in per_user.items()},
        nsfw=nsfw,
        shows_nsfw=shows,
    )
