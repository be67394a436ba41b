"""The ``catalogue`` log entry: the launcher signs each catalogue version it publishes.

Its payload is :meth:`mpcrec.data.catalogue.CatalogueHeader.log_payload`: version,
previous hash, first row, rows, how many rows it retires and are retired after it, the
diff's digest and the version's hash. The entry's ``round`` is the first round that may
use the version. A round that trains on the catalogue names its version and row count in
its ``round_open`` entry (``catalogue_version``, ``rows``); the auditor's rule
``catalogue`` (:mod:`mpcrec.audit.checks.catalogue`) ties the two together.
"""

from __future__ import annotations

from mpcrec.audit.entries import LAUNCHER, Kind, LogEntry
from mpcrec.data.catalogue import CatalogueHeader


def catalogue_version(*, from_round: int, header: CatalogueHeader) -> LogEntry:
    """The launcher publishes catalogue version ``header.version``, in force from ``from_round``."""
    return LogEntry(Kind.CATALOGUE, from_round, LAUNCHER, header.log_payload())
