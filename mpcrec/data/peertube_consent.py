"""Who is never trained on: users who opted out in the plugin, and users without history.

Two PeerTube facts leave a user out of training (their signals are not trained on, and no
user embedding is learnt or kept for them); both are read with the read-only role:

- **opted out** in peertube-plugin-mpcrec (*My account > Recommendations*): the plugin
  stores ``storage["training-opt-out-<user id>"] = true`` in its own row of PeerTube's
  ``plugin`` table (``storageManager.storeData``; PeerTube's ``PluginModel.storeData`` is
  ``jsonb_set`` on ``plugin.storage``, the row ``name = 'mpcrec'``, ``type = 1``), and
  ``false`` when the user opts back in. Any value but JSON ``false`` counts as opted out
  (an unreadable value leaves the user out, not in);
- **history disabled** in PeerTube (``user."videosHistoryEnabled" = false``): the user told
  PeerTube not to keep what they watch; their likes and playlists are not trained on
  either.

Such users are still served (popular videos, related videos), and what they already saw
is still left out of their lists: that filter runs inside the node and trains nothing.
Only ``name``, ``type`` and ``storage`` of ``plugin`` are granted: ``settings`` holds the
plugin's settings, the node's shared secret among them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

PLUGIN_NAME = "mpcrec"  # PeerTube's name for the npm package peertube-plugin-mpcrec
PLUGIN_TYPE = 1  # PluginType.PLUGIN (2 is a theme)
OPT_OUT_PREFIX = "training-opt-out-"  # + the PeerTube user id: one storage key per user

OPTED_OUT_QUERY = (
    'SELECT s."key" FROM "plugin" p CROSS JOIN LATERAL jsonb_each('
    "CASE WHEN jsonb_typeof(p.\"storage\") = 'object' THEN p.\"storage\" ELSE '{}'::jsonb END"
    ') s WHERE p."name" = %(name)s AND p."type" = %(type)s '
    'AND starts_with(s."key", %(prefix)s) AND s."value" <> \'false\'::jsonb'
)
HISTORY_OFF_QUERY = 'SELECT "id" FROM "user" WHERE NOT "videosHistoryEnabled"'


@dataclass(frozen=True)
class TrainingExclusions:
    """PeerTube user ids never trained on (module docstring)."""

    opted_out: frozenset[int] = frozenset()
    history_off: frozenset[int] = frozenset()

    @property
    def users(self) -> frozenset[int]:
        """Every user left out of training, for either reason."""
        return self.opted_out | self.history_off


def read_training_exclusions(cur: psycopg.Cursor[tuple[Any, ...]]) -> TrainingExclusions:
    """The users to leave out of training now, read through ``cur`` (two queries)."""
    cur.execute(
        OPTED_OUT_QUERY, {"name": PLUGIN_NAME, "type": PLUGIN_TYPE, "prefix": OPT_OUT_PREFIX}
    )
    opted_out = set()
    for (key,) in cur.fetchall():
        suffix = str(key)[len(OPT_OUT_PREFIX) :]
        if suffix.isascii() and suffix.isdigit():
            opted_out.add(int(suffix))
    cur.execute(HISTORY_OFF_QUERY)
    history_off = frozenset(int(user_id) for (user_id,) in cur.fetchall())
    return TrainingExclusions(opted_out=frozenset(opted_out), history_off=history_off)
