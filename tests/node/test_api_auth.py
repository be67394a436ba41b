"""The API secret file: private, long enough, one line; the bearer check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mpcrec.errors import ConfigError
from mpcrec.node.api_auth import MIN_SECRET_CHARS, bearer_matches, load_secret

GOOD = "k" * MIN_SECRET_CHARS


def _write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_a_private_file_gives_its_secret_without_surrounding_whitespace(tmp_path: Path) -> None:
    assert load_secret(_write(tmp_path / "s", f"  {GOOD}\n", 0o600)) == GOOD.encode()
    assert load_secret(_write(tmp_path / "r", GOOD, 0o400)) == GOOD.encode()


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        (GOOD, 0o644, "open to other users (mode 0644)"),
        (GOOD, 0o640, "open to other users"),
        (GOOD, 0o602, "open to other users"),
        ("short", 0o600, f"at least {MIN_SECRET_CHARS} characters, got 5"),
        (f"{GOOD}\n{GOOD}", 0o600, "must be one line"),
    ],
)
def test_a_weak_secret_file_is_refused(tmp_path: Path, text: str, mode: int, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_secret(_write(tmp_path / "s", text, mode))


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the API secret file"):
        load_secret(tmp_path / "absent")


def test_bearer_matches_only_the_exact_secret() -> None:
    secret = GOOD.encode()
    assert bearer_matches(b"Bearer " + secret, secret)
    assert bearer_matches(b"bearer " + secret, secret)
    for header in [None, b"", b"Bearer", secret, b"Basic " + secret, b"Bearer " + secret + b"x"]:
        assert not bearer_matches(header, secret)
