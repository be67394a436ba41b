"""The federation's catalogue as a ``peertube`` trainer reads it: which video each row of
the model is (:class:`Catalogue`, from ``catalogue.txt`` or the node's verified copy).

The global model is ``n_items`` item embeddings; row ``k`` is one video, federation-wide.
Which video is the :class:`Catalogue` file, public and the same on every instance (the
federation's operator publishes it with ``federation.yaml``): line ``k`` (0-based) holds
the video's ActivityPub URL (PeerTube's ``video.url``, e.g.
``https://tube.example/videos/watch/<uuid>``), optionally followed by a space and its
UUID. The URL is the key: it names a video the same way on its origin and on every
instance that federated it. A signal on a video the catalogue lacks (a new or a local-only
video) is skipped and counted in the log; a catalogue whose length is not the model's
``n_items`` is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mpcrec.data.catalogue_index import CatalogueIndex
from mpcrec.errors import ConfigError


@dataclass(frozen=True)
class Catalogue:
    """The federation's public item list: row ``k`` of the model is ``urls[k]``.

    Attributes
    ----------
    urls:
        ActivityPub URL of each item, in model row order.
    uuids:
        UUID of each item (``""`` where the file gives none).
    source:
        Where it was read from (for error messages).
    """

    urls: tuple[str, ...]
    uuids: tuple[str, ...]
    source: str = "catalogue"
    index: Mapping[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {url: k for k, url in enumerate(self.urls)})

    @classmethod
    def load(cls, path: Path, sha256: str = "") -> Catalogue:
        """Read a catalogue file (module docstring); check its SHA-256 if one is given.

        Raises
        ------
        ConfigError
            If the file is unreadable, its digest differs, a line is not ``URL [UUID]``
            or a URL appears twice.
        """
        try:
            raw = Path(path).read_bytes()
        except OSError as err:
            raise ConfigError(
                f"cannot read the federation catalogue {path}: {err.strerror or err}",
                hint="get catalogue.txt from the federation's operator",
            ) from err
        digest = hashlib.sha256(raw).hexdigest()
        if sha256 and digest != sha256.lower():
            raise ConfigError(
                f"{path}: SHA-256 {digest} is not the federation's {sha256}",
                hint="download the catalogue again from the federation's operator",
            )
        urls: list[str] = []
        uuids: list[str] = []
        seen: dict[str, int] = {}
        for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
            fields = line.split()
            if not 1 <= len(fields) <= 2 or not fields[0].startswith(("https://", "http://")):
                raise ConfigError(
                    f"{path}:{number}: expected 'URL [UUID]', got {line!r}",
                    hint="one video per line: its ActivityPub URL, optionally its UUID",
                )
            if fields[0] in seen:
                raise ConfigError(f"{path}:{number}: {fields[0]} is already item {seen[fields[0]]}")
            seen[fields[0]] = len(urls)
            urls.append(fields[0])
            uuids.append(fields[1] if len(fields) == 2 else "")
        return cls(tuple(urls), tuple(uuids), str(path))

    @classmethod
    def verified(cls, state_dir: Path, n_items: int) -> Catalogue:
        """Rows ``0 .. n_items - 1`` of the catalogue this node fetched and verified
        (``state_dir/catalogue``, :mod:`mpcrec.node.catalogue_sync`).

        Raises
        ------
        ConfigError
            If it has fewer rows than the model.
        """
        index = CatalogueIndex.load(Path(state_dir) / "catalogue")
        if len(index) < n_items:
            raise ConfigError(
                f"the verified catalogue has {len(index)} rows, the federation's model {n_items}",
                hint="the node fetches it when a round names a version; or give "
                "`catalogue: catalogue.txt`",
            )
        rows = range(n_items)
        return cls(
            tuple(index.url(k) for k in rows), tuple(index.uuid(k) for k in rows), "verified"
        )

    def check(self, n_items: int) -> None:
        """Refuse a catalogue that does not describe a model of ``n_items`` rows."""
        if len(self.urls) != n_items:
            raise ConfigError(
                f"{self.source} lists {len(self.urls)} videos but the federation's model has "
                f"{n_items} items",
                hint="use the catalogue file of this federation",
            )
