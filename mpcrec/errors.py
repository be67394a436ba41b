"""Errors a user can act on.

Every error caused by bad input or a bad environment is raised as a :class:`UserError`
(or a subclass). The CLI prints its message and hint without a traceback and exits with
code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input or environment: a clear message, what to do about it, exit code 2.

    Parameters
    ----------
    message:
        What was wrong, naming the file, line or value.
    hint:
        What the user can do about it (optional).
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class DataError(UserError):
    """A data file is missing, malformed or unusable."""


class ConfigError(UserError):
    """A configuration file or option is invalid."""


class StorageError(UserError):
    """A file could not be written (permissions, a full disk); nothing half-written is left."""


class ProtocolError(UserError):
    """A protocol message is forged, replayed, malformed or out of place."""


class RoundAborted(Exception):
    """A secure round ended without a result (a peer died, a deadline passed, too few inputs).

    Nothing was revealed and no model state moved; the caller may retry the round.
    """
