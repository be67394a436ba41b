"""What a node serves: the newest published model, fetched once and kept for a round or two,
and the snapshot its trainer builds from it for the recommendation API."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mpcrec.federation.launcher_client import LauncherClient
from mpcrec.federation.published_model import PublishedModel
from mpcrec.node.gram_release import Fetch, GramRelease
from mpcrec.node.trainer import Trainer

if TYPE_CHECKING:
    from mpcrec.node.recommender import ModelSnapshot, Recommender

log = logging.getLogger("mpcrec.node")
SNAPSHOT_FILE = "snapshot.npz"


class ModelCache:
    """Published models by version; only the newest two fetched are kept. ``check`` is run
    on every model fetched before it is kept (it raises to refuse it: the daemon's
    :class:`~mpcrec.node.model_provenance.ModelProvenance`)."""

    def __init__(self, check: Callable[[PublishedModel], None] = lambda _model: None) -> None:
        self._models: dict[int, PublishedModel] = {}
        self.check = check

    def get(self, client: LauncherClient, version: int) -> PublishedModel:
        """Model ``version``, fetched from the launcher (and checked) the first time."""
        if version not in self._models:
            fetched = client.get_model(version)
            self.check(fetched)
            self._models[version] = fetched
            for old in [v for v in self._models if v < version - 1]:
                del self._models[old]
        return self._models[version]

    def fetcher(self, client: LauncherClient) -> Fetch:
        """:meth:`get` from ``client``, as a function of the version."""
        return lambda version: self.get(client, version)


class SnapshotWriter:
    """Builds what the node serves from a model, if its trainer can: publishes it to the
    in-process API (an atomic swap) or, without one, writes it atomically to
    ``state_dir/snapshot.npz`` for ``mpcrec serve --snapshot``."""

    def __init__(
        self, name: str, trainer: Trainer, state_dir: Path, recommender: Recommender | None
    ) -> None:
        self.name = name
        self.trainer = trainer
        self.path = state_dir / SNAPSHOT_FILE
        self.recommender = recommender
        self.hide: Callable[[ModelSnapshot], ModelSnapshot] = lambda built: built
        self.gram = GramRelease()  # its round parameters set at registration

    @property
    def wanted(self) -> bool:
        """Whether the trainer builds snapshots at all."""
        return getattr(self.trainer, "snapshot", None) is not None

    def write(self, model: PublishedModel, fetch: Fetch | None = None) -> None:
        """Serve ``model`` (nothing when the trainer builds no snapshot), with EASE's term
        once a Gram release is complete (its slices' versions from ``fetch``)."""
        snapshot = getattr(self.trainer, "snapshot", None)
        if snapshot is None:
            return
        ease = self.gram.ease(model.version, fetch)
        built = self.hide(snapshot(model.array(), model.version, **ease))  # retired rows hidden
        if self.recommender is not None:
            self.recommender.publish(built)
            log.info("%s: serving model v%d", self.name, model.version)
        else:
            built.save(self.path)
