"""Private key files are refused when others may read them or another user owns them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mpcrec.crypto import key_file
from mpcrec.crypto.keys import SIGNING_FILE, NodeKeys
from mpcrec.crypto.pki import create_ca, issue_certificate
from mpcrec.errors import ConfigError
from mpcrec.federation.tls import channel_credentials


def test_node_keys_readable_by_others_are_refused_with_a_chmod_hint(tmp_path: Path) -> None:
    # Prepare
    NodeKeys.load_or_create(tmp_path)
    os.chmod(tmp_path / SIGNING_FILE, 0o644)

    # Execute
    with pytest.raises(ConfigError) as refused:
        NodeKeys.load_or_create(tmp_path)

    # Assert
    assert "mode 0644" in refused.value.message
    assert refused.value.hint is not None
    assert f"chmod 600 {tmp_path / SIGNING_FILE}" in refused.value.hint


def test_node_keys_owned_by_another_user_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    NodeKeys.load_or_create(tmp_path)
    me = os.geteuid()
    monkeypatch.setattr(key_file.os, "geteuid", lambda: me + 1)

    with pytest.raises(ConfigError, match="owned by uid"):
        NodeKeys.load_or_create(tmp_path)


def test_private_keys_load_when_mode_0600(tmp_path: Path) -> None:
    first = NodeKeys.load_or_create(tmp_path)
    assert NodeKeys.load_or_create(tmp_path).signing_public == first.signing_public


def test_tls_and_ca_keys_readable_by_group_are_refused(tmp_path: Path) -> None:
    # Prepare
    create_ca(tmp_path / "ca")
    paths = issue_certificate(tmp_path / "ca", tmp_path, instance_id="tube-a", hosts=[])
    channel_credentials(paths)  # 0600 as issued: fine
    os.chmod(paths.key, 0o640)
    os.chmod(tmp_path / "ca" / "ca.key", 0o640)

    # Execute / Assert
    with pytest.raises(ConfigError, match="readable or writable by its group or others"):
        channel_credentials(paths)
    with pytest.raises(ConfigError, match=r"ca\.key"):
        issue_certificate(tmp_path / "ca", tmp_path, instance_id="tube-b", hosts=[])
