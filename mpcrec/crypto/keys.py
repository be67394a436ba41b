"""An instance's long-lived keys: Ed25519 to sign, X25519 to receive sealed shares.

Kept in the node's state directory as raw private bytes in files of mode 0600, written
atomically (temp file, then ``os.replace``), created on first start and reused afterwards:
the launcher refuses a registered instance that comes back with other keys. A key file
readable by others or owned by another user is refused on load
(:func:`mpcrec.crypto.key_file.check_private`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from mpcrec.crypto.key_file import check_private
from mpcrec.errors import ConfigError
from mpcrec.files import write_atomic

SIGNING_FILE = "signing.key"
SEALING_FILE = "sealing.key"


@dataclass(frozen=True)
class NodeKeys:
    """The instance's private keys and their raw public halves."""

    signing: Ed25519PrivateKey
    sealing: X25519PrivateKey

    @property
    def signing_public(self) -> bytes:
        """Raw 32-byte Ed25519 public key."""
        return self.signing.public_key().public_bytes_raw()

    @property
    def sealing_public(self) -> bytes:
        """Raw 32-byte X25519 public key."""
        return self.sealing.public_key().public_bytes_raw()

    @classmethod
    def load_or_create(cls, directory: Path) -> NodeKeys:
        """Load the keys from ``directory``, creating them (mode 0600) on first use."""
        directory.mkdir(parents=True, exist_ok=True)
        signing = _load(directory / SIGNING_FILE)
        sealing = _load(directory / SEALING_FILE)
        if signing is None:
            key = Ed25519PrivateKey.generate()
            write_atomic(directory / SIGNING_FILE, key.private_bytes_raw())
            signing = key.private_bytes_raw()
        if sealing is None:
            xkey = X25519PrivateKey.generate()
            write_atomic(directory / SEALING_FILE, xkey.private_bytes_raw())
            sealing = xkey.private_bytes_raw()
        return cls(
            Ed25519PrivateKey.from_private_bytes(signing),
            X25519PrivateKey.from_private_bytes(sealing),
        )


def _load(path: Path) -> bytes | None:
    if not path.exists():
        return None
    check_private(path)
    raw = path.read_bytes()
    if len(raw) != 32:
        raise ConfigError(
            f"{path}: {len(raw)} bytes, expected a raw 32-byte private key",
            hint="restore the file from a backup, or move it away to make a new identity",
        )
    return raw
