"""The check every private key file passes before it is used: private to its owner.

A key file (an instance's signing and sealing keys, a TLS key, the CA's key) readable by the
group or others, or owned by another user, may have been read or replaced by someone else:
it is refused with what to do (``chmod 600``, ``chown``), never used. mpcrec writes its key
files with mode 0600 (:func:`mpcrec.files.write_atomic`); this catches files copied,
restored or provisioned since with a looser mode.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from mpcrec.errors import ConfigError


def check_private(path: Path) -> None:
    """Raise :class:`ConfigError` unless ``path`` is owned by this user and has no group or
    other permission bits (a missing file is the caller's to report)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise ConfigError(f"cannot read private key file {path}: {err.strerror}") from None
    loose = stat.S_IMODE(info.st_mode) & 0o077
    if loose:
        raise ConfigError(
            f"private key file {path} has mode {stat.S_IMODE(info.st_mode):04o}: "
            "readable or writable by its group or others",
            hint=f"chmod 600 {path}  (and find out who may have read it)",
        )
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is not None and info.st_uid != uid:
        raise ConfigError(
            f"private key file {path} is owned by uid {info.st_uid}, not by this user (uid {uid})",
            hint=f"chown {uid} {path}  (run mpcrec as the key's owner)",
        )
