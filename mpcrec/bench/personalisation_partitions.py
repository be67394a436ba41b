"""``bench personalisation --partition``: federations whose instances differ, or not.

``zip`` (the default, issue 14's partition) deals whole zip-code regions to Zipf-sized
instances (:func:`~mpcrec.data.partition.partition_users`). The others cut instances of
the same exact Zipf sizes out of users ordered by a community
(:func:`~mpcrec.data.partition.by_community`), as PeerTube's communities (a gaming
instance, a science one) would hold them:

``occupation``
    ML-100k's 21 occupations (students, programmers, retired, artists ...).
``age``
    Seven age bands (MovieLens-1M's: < 18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+).
``taste``
    20 k-means clusters of the users' genre shares, on the events of
    :func:`~mpcrec.bench.personalisation.earlier_view`'s training set only (every user's
    last three items left out: no item any stage of the protocol holds out, the replay's
    included, is read).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mpcrec.data.interactions import Interactions
from mpcrec.data.movielens import fetch_movielens_100k
from mpcrec.data.partition import (
    ZIP_PREFIX,
    Partition,
    by_community,
    partition_users,
    taste_labels,
)
from mpcrec.data.split import leave_last_out, whole_past
from mpcrec.errors import DataError

PARTITIONS = ("zip", "occupation", "age", "taste")
AGE_BANDS = (18, 25, 35, 45, 50, 56)
"""Lower edges of the bands after the first (MovieLens-1M's seven)."""
TASTE_CLUSTERS = 20
DESCRIPTIONS = {
    "zip": "zip-code regions (mpcrec.data.partition.by_attribute)",
    "occupation": "occupations, Zipf sizes (mpcrec.data.partition.by_community)",
    "age": "age bands <18/18-24/25-34/35-44/45-49/50-55/56+, Zipf sizes (by_community)",
    "taste": f"{TASTE_CLUSTERS} k-means clusters of genre shares on the training items "
    "before the last three, Zipf sizes (taste_labels, by_community)",
}


def make_partition(
    name: str, data: Interactions, n_instances: int, seed: int, users: Path | None = None
) -> Partition:
    """The ``name`` partition of ``data``'s users under ``seed`` (``users``: ML-100k's
    user file, fetched if not given, for ``occupation`` and ``age``)."""
    if name == "zip":
        return partition_users(data, n_instances, seed=seed)
    return by_community(community_labels(name, data, seed, users), n_instances, seed=seed)


def community_labels(
    name: str, data: Interactions, seed: int, users: Path | None = None
) -> tuple[str, ...]:
    """Every user's community under the ``name`` partition (``zip``: the region)."""
    if name == "zip" and data.user_attribute is not None:
        return tuple(a.strip()[:ZIP_PREFIX].upper() for a in data.user_attribute)
    if name == "taste":
        early = leave_last_out(whole_past(data).train).train  # without each user's last 3
        return taste_labels(early, TASTE_CLUSTERS, seed=seed)
    if name not in ("occupation", "age"):
        raise DataError(f"--partition {name!r}: expected one of {', '.join(PARTITIONS)}")
    table = user_table(users or fetch_movielens_100k() / "ml-100k.user")
    missing = [u for u in data.user_ids if u not in table]
    if missing:
        raise DataError(f"users {missing[:5]} missing from the user file")
    if name == "occupation":
        return tuple(table[u][1] for u in data.user_ids)
    return tuple(age_band(table[u][0]) for u in data.user_ids)


def age_band(age: int) -> str:
    """``"band-k"``: 0 below 18, ..., 6 from 56."""
    return f"band-{int(np.searchsorted(AGE_BANDS, age, side='right'))}"


def user_table(path: Path) -> dict[str, tuple[int, str]]:
    """``user id -> (age, occupation)`` from a RecBole ``.user`` file (header line first)."""
    table: dict[str, tuple[int, str]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    for lineno, line in enumerate(lines, start=2):
        fields = line.split("\t")
        if len(fields) < 4 or not fields[1].strip().isdecimal() or not fields[3].strip():
            raise DataError(f"{path}:{lineno}: expected user, age, gender, occupation")
        table[fields[0]] = (int(fields[1]), fields[3].strip())
    return table


def community_shares(labels: tuple[str, ...], partition: Partition) -> list[float]:
    """Per instance, the share of its users in its largest community (1: one community)."""
    codes = np.unique(np.asarray(labels), return_inverse=True)[1]
    shares = []
    for k in range(partition.n_instances):
        counts = np.bincount(codes[partition.members(k)])
        shares.append(float(counts.max() / counts.sum()))
    return shares
