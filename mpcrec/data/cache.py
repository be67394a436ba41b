"""The local data cache: where fetched datasets live, and how files get there atomically.

The cache root is ``$MPCREC_CACHE`` when set, otherwise the user's cache directory
(``platformdirs.user_cache_dir("mpcrec")``). A file in the cache is either complete or
absent: it is written to a temporary file in the same directory, flushed, then moved
into place with :func:`os.replace`, so an interrupted fetch never leaves half a file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import platformdirs

from mpcrec.errors import DataError

ENV_VAR = "MPCREC_CACHE"


def cache_root() -> Path:
    """Return the cache root: ``$MPCREC_CACHE`` or the platform's user cache directory."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("mpcrec"))


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed and check that it is writable.

    Raises
    ------
    DataError
        If the directory cannot be created or written to.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(
            f"cannot create cache directory {path}: {err.strerror or err}",
            hint=f"set {ENV_VAR} to a writable directory",
        ) from err
    if not os.access(path, os.W_OK | os.X_OK):
        raise DataError(
            f"cache directory {path} is not writable",
            hint=f"set {ENV_VAR} to a writable directory",
        )
    return path


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 digest of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()
