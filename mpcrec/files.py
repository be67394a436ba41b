"""Writing files so that a crash never leaves half of one behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mpcrec.errors import StorageError


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600, hint: str | None = None) -> None:
    """Write ``data`` to ``path`` through a temp file in the same directory, then rename.

    The file gets ``mode`` (0600 by default: keys, user embeddings) before any byte is
    written. On failure the temp file is removed and ``path`` keeps its previous content.

    Raises
    ------
    StorageError
        If the file cannot be written; ``hint`` (or a default) says what to do.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise _failed(path, err, hint) from err
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise _failed(path, err, hint) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _failed(path: Path, err: OSError, hint: str | None) -> StorageError:
    return StorageError(
        f"cannot write {path}: {err.strerror or err}",
        hint=hint or "point it at a writable directory with free space",
    )
