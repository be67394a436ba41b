"""Retired catalogue rows are never served: they join a snapshot's hidden videos."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from mpcrec.data.catalogue_index import CatalogueIndex
from mpcrec.node.recommender import ModelSnapshot


def retired_urls(index: CatalogueIndex) -> list[str]:
    """The URLs of the catalogue's retired rows."""
    return [index.url(int(k)) for k in np.flatnonzero(index.retired)]


def without_retired(snapshot: ModelSnapshot, retired: Iterable[str]) -> ModelSnapshot:
    """``snapshot`` with every retired URL it knows hidden (never recommended)."""
    wanted = set(retired)
    rows = [k for k, url in enumerate(snapshot.item_urls) if url in wanted]
    if not rows:
        return snapshot
    hidden = np.union1d(snapshot.hidden, np.asarray(rows, np.int64)).astype(np.int64)
    return dataclasses.replace(snapshot, hidden=hidden)
