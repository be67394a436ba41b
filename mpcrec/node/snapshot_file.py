"""The model snapshot file (``.npz``, no pickles): what ``mpcrec serve --snapshot`` reads.

:func:`save_snapshot` writes every field of a
:class:`~mpcrec.node.recommender.ModelSnapshot` atomically; :func:`load_snapshot` reads
them back as the keyword arguments of its constructor. Files written before the content
rules (no ``hidden``, ``nsfw``, ``shows_nsfw`` arrays) load with none.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mpcrec.errors import DataError
from mpcrec.files import write_atomic

FORMAT = 1  # snapshot file format version
IntArray = npt.NDArray[np.int64]


class SnapshotFields(Protocol):
    """What is saved of a :class:`~mpcrec.node.recommender.ModelSnapshot`."""

    @property
    def version(self) -> str: ...

    @property
    def item_urls(self) -> tuple[str, ...]: ...

    @property
    def item_uuids(self) -> tuple[str, ...]: ...

    @property
    def item_embeddings(self) -> npt.NDArray[np.float32]: ...

    @property
    def user_ids(self) -> IntArray: ...

    @property
    def user_embeddings(self) -> npt.NDArray[np.float32]: ...

    @property
    def popularity(self) -> npt.NDArray[np.float32]: ...

    @property
    def local_users(self) -> frozenset[int]: ...

    @property
    def seen(self) -> Mapping[int, IntArray]: ...

    @property
    def hidden(self) -> IntArray: ...

    @property
    def nsfw(self) -> IntArray: ...

    @property
    def shows_nsfw(self) -> frozenset[int]: ...


def save_snapshot(
    snapshot: SnapshotFields, path: Path, extra: Mapping[str, npt.NDArray[Any]] | None = None
) -> None:
    """Write ``snapshot`` to ``path`` atomically (mode 0600: it holds what users have seen);
    ``extra``: a model kind's own arrays (names starting ``x_``, :func:`extra_arrays`)."""
    users = sorted(snapshot.seen)
    lengths = [len(snapshot.seen[u]) for u in users]
    buffer = io.BytesIO()
    np.savez(
        buffer,
        format=np.int64(FORMAT),
        version=_text(snapshot.version),
        item_urls=_text("\n".join(snapshot.item_urls)),
        item_uuids=_text("\n".join(snapshot.item_uuids)),
        item_embeddings=snapshot.item_embeddings,
        user_ids=snapshot.user_ids,
        user_embeddings=snapshot.user_embeddings,
        popularity=snapshot.popularity,
        local_users=np.asarray(sorted(snapshot.local_users), np.int64),
        seen_users=np.asarray(users, np.int64),
        seen_lengths=np.asarray(lengths, np.int64),
        seen_items=np.concatenate([snapshot.seen[u] for u in users])
        if users
        else np.zeros(0, np.int64),
        hidden=snapshot.hidden,
        nsfw=snapshot.nsfw,
        shows_nsfw=np.asarray(sorted(snapshot.shows_nsfw), np.int64),
        **{f"x_{name}": value for name, value in (extra or {}).items()},  # type: ignore[arg-type]
    )
    write_atomic(path, buffer.getvalue())


def load_snapshot(path: Path) -> dict[str, Any]:
    """The fields of the snapshot in ``path``, as keyword arguments of ``ModelSnapshot``.

    Raises
    ------
    DataError
        If the file is missing, not a snapshot, or of another format version.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as err:
        raise DataError(
            f"cannot read model snapshot {path}: {err}",
            hint="give a file written by ModelSnapshot.save (the node writes one per round)",
        ) from err
    if int(arrays.get("format", -1)) != FORMAT:
        raise DataError(f"{path} is not a model snapshot of format {FORMAT}")
    splits = np.cumsum(arrays["seen_lengths"])[:-1]
    seen_rows = np.split(arrays["seen_items"].astype(np.int64), splits)
    none = np.zeros(0, np.int64)
    return {
        "version": _untext(arrays["version"]),
        "item_urls": tuple(_untext(arrays["item_urls"]).split("\n")),
        "item_uuids": tuple(_untext(arrays["item_uuids"]).split("\n")),
        "item_embeddings": arrays["item_embeddings"],
        "user_ids": arrays["user_ids"].astype(np.int64),
        "user_embeddings": arrays["user_embeddings"],
        "popularity": arrays["popularity"],
        "local_users": frozenset(arrays["local_users"].tolist()),
        "seen": dict(zip(arrays["seen_users"].tolist(), seen_rows, strict=True))
        if len(arrays["seen_users"])
        else {},
        "hidden": arrays.get("hidden", none).astype(np.int64),
        "nsfw": arrays.get("nsfw", none).astype(np.int64),
        "shows_nsfw": frozenset(arrays.get("shows_nsfw", none).tolist()),
    }


def extra_arrays(path: Path) -> dict[str, npt.NDArray[Any]]:
    """The ``extra`` arrays :func:`save_snapshot` wrote to ``path`` (none: ``{}``)."""
    with np.load(path, allow_pickle=False) as data:
        return {name[2:]: data[name] for name in data.files if name.startswith("x_")}


def _text(value: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(value.encode("utf-8"), np.uint8)


def _untext(value: npt.NDArray[np.uint8]) -> str:
    return bytes(value.tobytes()).decode("utf-8")
