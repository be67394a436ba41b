"""A PeerTube database made from an interaction table (MovieLens or other), for tests and demos.

:func:`write_instance` fills an empty database created with :func:`create_schema` (the
tables of ``peertube_schema.sql``, which mirror PeerTube's) so that it looks like one
PeerTube instance:

- every user of the table becomes a local PeerTube user (id ``index + 2``; id 1 is the
  ``root`` admin every PeerTube has) with its account;
- every catalogue item becomes a public video, named federation-wide by a deterministic
  ``uuid5`` of its item id (the same on every instance) and by the URL of the instance
  that published it, ``https://<origin>/videos/watch/<uuid>``; items whose origin is
  another instance are *remote* videos (``video.remote``), as they would be after
  federation. Title, tags and publication date come from the item metadata;
- each (user, item) event becomes a row of ``userVideoHistory`` (the latest time when a
  pair repeats); rows marked in ``likes`` / ``dislikes`` also become ``accountVideoRate``
  rows, rows marked in ``playlist`` become elements of the user's "Favourites" playlist.

:func:`movielens_signals` gives the MovieLens marks: ratings >= 4 are likes, ratings of 1
are dislikes, ratings of 5 are also saved to a playlist.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import numpy as np
import numpy.typing as npt
import psycopg

from mpcrec.data.interactions import Interactions, ItemMeta

BoolArray = npt.NDArray[np.bool_]

# Namespace of the deterministic video UUIDs: the same item id gives the same video everywhere.
VIDEO_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://mpcrec.invalid/videos")
MIGRATION_VERSION = 1120  # the migration of the PeerTube v8 models peertube_schema.sql follows
_EPOCH_2020 = datetime(2020, 1, 1, tzinfo=UTC)


def create_schema(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Create PeerTube's tables (``peertube_schema.sql``) in the connected database."""
    sql = resources.files("mpcrec.data").joinpath("peertube_schema.sql").read_text("utf-8")
    conn.execute(sql.encode())


def video_uuid(item_id: str) -> str:
    """The federation-wide UUID of the video made from ``item_id`` (uuid5, deterministic)."""
    return str(uuid.uuid5(VIDEO_NAMESPACE, item_id))


def video_url(origin: str, uuid_: str) -> str:
    """PeerTube's ActivityPub URL of a video published on instance ``origin``."""
    return f"https://{origin}/videos/watch/{uuid_}"


@dataclass(frozen=True)
class InstanceMap:
    """How the rows of an interaction table were named in the PeerTube database.

    Attributes
    ----------
    user_ids:
        PeerTube ``user.id`` of every dense user index.
    video_uuids, video_urls:
        ``video.uuid`` and ``video.url`` of every dense item index.
    host:
        The instance the database belongs to.
    """

    user_ids: tuple[int, ...]
    video_uuids: tuple[str, ...]
    video_urls: tuple[str, ...]
    host: str


def movielens_signals(
    interactions: Interactions, ratings: dict[tuple[str, str], float]
) -> tuple[BoolArray, BoolArray, BoolArray]:
    """Likes (rating >= 4), dislikes (rating 1) and playlist saves (rating 5) per row.

    ``ratings`` maps (external user id, external item id) to the MovieLens rating.
    """
    values = np.fromiter(
        (
            ratings.get((interactions.user_ids[u], interactions.item_ids[i]), 0.0)
            for u, i in zip(interactions.users.tolist(), interactions.items.tolist(), strict=True)
        ),
        np.float64,
        count=len(interactions),
    )
    return values >= 4.0, values == 1.0, values == 5.0


def movielens_ratings() -> dict[tuple[str, str], float]:
    """MovieLens-100k ratings by (user id, item id), from the cached ``ml-100k.inter``."""
    from mpcrec.data.movielens import fetch_movielens_100k

    path = fetch_movielens_100k() / "ml-100k.inter"
    ratings: dict[tuple[str, str], float] = {}
    for line in path.read_text(encoding="latin-1").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) >= 3:
            ratings[(fields[0], fields[1])] = float(fields[2])
    return ratings


def keep_users(interactions: Interactions, n_users: int) -> Interactions:
    """The events of the first ``n_users`` users, with the whole catalogue and its metadata."""
    rows = np.flatnonzero(interactions.users < n_users)
    meta = interactions.item_meta
    return Interactions.from_columns(
        [interactions.user_ids[u] for u in interactions.users[rows].tolist()],
        [interactions.item_ids[i] for i in interactions.items[rows].tolist()],
        interactions.timestamps[rows],
        weights=interactions.weights[rows],
        catalogue=interactions.item_ids,
        item_meta=None if meta is None else dict(zip(interactions.item_ids, meta, strict=True)),
    )


def write_instance(
    conn: psycopg.Connection[tuple[object, ...]],
    interactions: Interactions,
    *,
    host: str,
    origin_hosts: Sequence[str] = (),
    likes: BoolArray | None = None,
    dislikes: BoolArray | None = None,
    playlist: BoolArray | None = None,
) -> InstanceMap:
    """Fill an empty PeerTube schema with ``interactions`` as the instance ``host``.

    Parameters
    ----------
    conn:
        A connection allowed to write (the schema owner), in a transaction or autocommit.
    interactions:
        The users of this instance and the whole catalogue (``item_meta`` gives titles,
        tags and publication years; without it videos are named after their item id).
    host:
        This instance's host name.
    origin_hosts:
        The instances videos are published on; item ``i`` comes from
        ``origin_hosts[i % len]`` (default: all from ``host``). Videos from other hosts are
        stored as remote videos, as PeerTube stores federated ones.
    likes, dislikes, playlist:
        Optional boolean masks over the rows (see the module docstring).
    """
    origins = tuple(origin_hosts) or (host,)
    n = len(interactions)
    uuids = tuple(video_uuid(iid) for iid in interactions.item_ids)
    urls = tuple(video_url(origins[i % len(origins)], u) for i, u in enumerate(uuids))
    user_ids = tuple(range(2, interactions.n_users + 2))
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        cur.execute(
            'INSERT INTO "application" ("id", "migrationVersion") VALUES (1, %s)',
            (MIGRATION_VERSION,),
        )
        _write_users(cur, user_ids, now)
        channel_of_origin = _write_channels(cur, origins, host, now)
        _write_videos(cur, interactions, uuids, urls, origins, host, channel_of_origin, now)
        rows = _latest_rows(interactions)
        _copy(
            cur,
            "userVideoHistory",
            ("createdAt", "updatedAt", "currentTime", "videoId", "userId"),
            (
                (_ts(t), _ts(t), 60, i + 1, user_ids[u])
                for u, i, t in (_row(interactions, r) for r in rows)
            ),
        )
        _write_rates(cur, interactions, rows, likes, dislikes, user_ids, host, n)
        _write_playlists(cur, interactions, rows, playlist, user_ids, host, now, n)
        _reset_sequences(cur)
    return InstanceMap(user_ids=user_ids, video_uuids=uuids, video_urls=urls, host=host)


Cursor = psycopg.Cursor[tuple[object, ...]]


def _copy(
    cur: Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    names = ", ".join(f'"{c}"' for c in columns)
    with cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _row(interactions: Interactions, r: int) -> tuple[int, int, float]:
    return (
        int(interactions.users[r]),
        int(interactions.items[r]),
        float(interactions.timestamps[r]),
    )


def _latest_rows(interactions: Interactions) -> list[int]:
    """Row numbers keeping, for each (user, item) pair, its latest event."""
    latest: dict[tuple[int, int], int] = {}
    for r in np.argsort(interactions.timestamps, kind="stable").tolist():
        latest[(int(interactions.users[r]), int(interactions.items[r]))] = r
    return sorted(latest.values())


def _write_users(cur: Cursor, user_ids: Sequence[int], now: datetime) -> None:
    users = [(1, "root")] + [(uid, f"user{uid}") for uid in user_ids]
    _copy(
        cur,
        "user",
        (
            "id",
            "username",
            "email",
            "role",
            "videoQuota",
            "videoQuotaDaily",
            "createdAt",
            "updatedAt",
        ),
        (
            (uid, name, f"{name}@example.invalid", 0 if uid == 1 else 2, -1, -1, now, now)
            for uid, name in users
        ),
    )
    _copy(
        cur,
        "account",
        ("id", "name", "userId", "createdAt", "updatedAt"),
        ((uid, name, uid, now, now) for uid, name in users),
    )


def _write_channels(
    cur: Cursor, origins: Sequence[str], host: str, now: datetime
) -> dict[str, int]:
    """One channel per origin instance (remote ones owned by a remote account)."""
    channel: dict[str, int] = {}
    next_account = 1_000_000
    for k, origin in enumerate(origins, start=1):
        if origin == host:
            owner = 1
        else:
            cur.execute(
                'INSERT INTO "server" ("id", "host", "createdAt", "updatedAt") '
                "VALUES (%s, %s, %s, %s)",
                (k, origin, now, now),
            )
            next_account += 1
            owner = next_account
            cur.execute(
                'INSERT INTO "account" ("id", "name", "createdAt", "updatedAt") '
                "VALUES (%s, %s, %s, %s)",
                (owner, f"videos@{origin}", now, now),
            )
        cur.execute(
            'INSERT INTO "videoChannel" ("id", "name", "accountId", "createdAt", "updatedAt") '
            "VALUES (%s, %s, %s, %s, %s)",
            (k, f"channel_{k}", owner, now, now),
        )
        channel[origin] = k
    return channel


def _published(meta: ItemMeta | None) -> datetime:
    """Publication date: ``published`` below 3000 is a year (MovieLens), else epoch seconds."""
    if meta is None:
        return _EPOCH_2020
    if meta.published < 3000:
        return datetime(max(1, int(meta.published)), 1, 1, tzinfo=UTC)
    return _ts(meta.published)


def _write_videos(
    cur: Cursor,
    interactions: Interactions,
    uuids: Sequence[str],
    urls: Sequence[str],
    origins: Sequence[str],
    host: str,
    channel_of_origin: dict[str, int],
    now: datetime,
) -> None:
    metas: Sequence[ItemMeta | None] = interactions.item_meta or [None] * interactions.n_items
    columns = (
        "id", "uuid", "name", "privacy", "nsfw", "duration", "remote", "url", "commentsPolicy",
        "downloadEnabled", "waitTranscoding", "state", "publishedAt", "channelId",
        "createdAt", "updatedAt",
    )  # fmt: skip
    rows = []
    for i, (item_id, meta) in enumerate(zip(interactions.item_ids, metas, strict=True)):
        origin = origins[i % len(origins)]
        title = (meta.title if meta else f"video {item_id}")[:120].ljust(3, ".")
        rows.append(
            (i + 1, uuids[i], title, 1, False, 600, origin != host, urls[i], 1, True, False, 1,
             _published(meta), channel_of_origin[origin], now, now)
        )  # fmt: skip
    _copy(cur, "video", columns, rows)
    tags = sorted({t for m in metas if m for t in m.tags})
    tag_id = {t: k for k, t in enumerate(tags, start=1)}
    _copy(
        cur,
        "tag",
        ("id", "name", "createdAt", "updatedAt"),
        ((k, t, now, now) for t, k in tag_id.items()),
    )
    _copy(
        cur,
        "videoTag",
        ("createdAt", "updatedAt", "videoId", "tagId"),
        ((now, now, i + 1, tag_id[t]) for i, m in enumerate(metas) if m for t in set(m.tags)),
    )


def _write_rates(
    cur: Cursor,
    interactions: Interactions,
    rows: Sequence[int],
    likes: BoolArray | None,
    dislikes: BoolArray | None,
    user_ids: Sequence[int],
    host: str,
    n: int,
) -> None:
    like = np.zeros(n, bool) if likes is None else np.asarray(likes, bool)
    dislike = np.zeros(n, bool) if dislikes is None else np.asarray(dislikes, bool)
    out = []
    for r in rows:
        if not (like[r] or dislike[r]):
            continue
        u, i, t = _row(interactions, r)
        kind = "like" if like[r] else "dislike"
        url = f"https://{host}/accounts/user{user_ids[u]}/{kind}s/{i + 1}"
        out.append((kind, url, _ts(t), _ts(t), i + 1, user_ids[u]))
    _copy(
        cur,
        "accountVideoRate",
        ("type", "url", "createdAt", "updatedAt", "videoId", "accountId"),
        out,
    )


def _write_playlists(
    cur: Cursor,
    interactions: Interactions,
    rows: Sequence[int],
    playlist: BoolArray | None,
    user_ids: Sequence[int],
    host: str,
    now: datetime,
    n: int,
) -> None:
    saved = np.zeros(n, bool) if playlist is None else np.asarray(playlist, bool)
    elements: list[tuple[object, ...]] = []
    owners: dict[int, int] = {}
    length: dict[int, int] = {}
    for r in rows:
        if not saved[r]:
            continue
        u, i, t = _row(interactions, r)
        playlist_id = owners.setdefault(user_ids[u], len(owners) + 1)
        length[playlist_id] = length.get(playlist_id, 0) + 1
        elements.append((_ts(t), _ts(t), length[playlist_id], playlist_id, i + 1))
    _copy(
        cur,
        "videoPlaylist",
        ("id", "name", "privacy", "url", "uuid", "type", "ownerAccountId", "createdAt",
         "updatedAt"),
        (
            (pid, "Favourites", 1, f"https://{host}/video-playlists/{pid}",
             str(uuid.uuid5(VIDEO_NAMESPACE, f"{host}/playlist/{pid}")), 1, owner, now, now)
            for owner, pid in owners.items()
        ),
    )  # fmt: skip
    _copy(
        cur,
        "videoPlaylistElement",
        ("createdAt", "updatedAt", "position", "videoPlaylistId", "videoId"),
        elements,
    )


def _reset_sequences(cur: Cursor) -> None:
    """Move every SERIAL sequence past the ids written explicitly, so later inserts work."""
    for table in ("user", "account", "video", "tag", "videoChannel", "server", "videoPlaylist"):
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f'GREATEST((SELECT MAX("id") FROM "{table}"), 1))'
        )
