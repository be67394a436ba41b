"""A node checks every key it is about to use: bound to its instance by the federation CA.

The launcher relays every instance's mpcrec keys (members' sealing keys in announcements,
contributors' signing keys with their envelopes). A node does not take them on the
launcher's word: each comes with the instance's TLS certificate and key binding
(:mod:`mpcrec.crypto.binding`), and :class:`KeyCheck` verifies both against the federation CA
this node already trusts for TLS (``tls.ca``) before the key is used:

* before sealing (:meth:`KeyCheck.check_seats`): every committee member and the dealer;
* before opening (:meth:`KeyCheck.check_envelopes`): every envelope's contributor;
* while opening (:func:`check_slots`, secure path): an envelope claims the contributor it
  came as.

A failure raises :class:`~mpcrec.node.round_refusal.RoundRefused` (``unbound-key`` or
``slot-mismatch``): the node sends nothing for that step and records why. The node's own
binding is made here too (:func:`own_binding`), from its TLS key file, at startup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from mpcrec.crypto.binding import load_tls_identity, sign_binding, verify_binding
from mpcrec.crypto.envelope import SealedShare
from mpcrec.crypto.keys import NodeKeys
from mpcrec.crypto.pki import CertPaths
from mpcrec.errors import ConfigError, ProtocolError
from mpcrec.federation.announcement import Member, RoundAnnouncement
from mpcrec.federation.contribution import Envelope
from mpcrec.node.round_refusal import RoundRefused

UNBOUND, SLOT_MISMATCH = "unbound-key", "slot-mismatch"


def own_binding(tls: CertPaths, instance_id: str, keys: NodeKeys) -> tuple[bytes, bytes]:
    """This node's certificate (DER) and its key binding of ``keys`` (ConfigError if the
    TLS files are missing or do not belong together)."""
    cert, tls_key = load_tls_identity(tls.cert, tls.key)
    return cert, sign_binding(tls_key, instance_id, keys.signing_public, keys.sealing_public)


class KeyCheck:
    """Verifies other instances' keys against the federation CA in ``ca_path``.

    Parameters
    ----------
    ca_path:
        The federation CA's certificate (PEM), read once here (ConfigError if unreadable).
    clock:
        The current time (tests may pass their own); certificates must be valid then.
    """

    def __init__(
        self,
        ca_path: Path,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        try:
            self.ca_pem = Path(ca_path).read_bytes()
        except OSError as err:
            raise ConfigError(
                f"cannot read the federation CA certificate {ca_path}: {err.strerror}",
                hint="set `tls.ca` to the CA certificate every instance certificate comes from",
            ) from err
        self.clock = clock

    def check(
        self, instance_id: str, signing_key: bytes, sealing_key: bytes, cert: bytes, binding: bytes
    ) -> None:
        """:class:`RoundRefused` (``unbound-key``) unless the keys are bound to the instance."""
        try:
            verify_binding(
                cert,
                binding,
                ca_pem=self.ca_pem,
                instance_id=instance_id,
                signing_key=signing_key,
                sealing_key=sealing_key,
                at=self.clock(),
            )
        except ProtocolError as err:
            raise RoundRefused(
                UNBOUND, err.message, hint="the launcher relayed keys the CA does not vouch for"
            ) from err

    def check_seats(self, ann: RoundAnnouncement) -> None:
        """Every committee member's (and the dealer's) keys, before sealing to them."""
        seats: list[Member] = [*ann.committee, *([ann.dealer] if ann.dealer else [])]
        for s in seats:
            self.check(s.instance_id, s.signing_key, s.sealing_key, s.certificate, s.key_binding)

    def check_envelopes(self, envelopes: Sequence[Envelope]) -> None:
        """Every contributor's keys, before opening its envelope."""
        for e in envelopes:
            self.check(e.contributor, e.signing_key, e.sealing_key, e.certificate, e.key_binding)


def check_slots(envelopes: Sequence[Envelope], sealed: Sequence[SealedShare]) -> None:
    """:class:`RoundRefused` (``slot-mismatch``) if an envelope names another contributor
    than the one it came as (its signature is checked under that one's key)."""
    for env, share in zip(envelopes, sealed, strict=True):
        if share.contributor_id != env.contributor:
            raise RoundRefused(
                SLOT_MISMATCH,
                f"the envelope that came as {env.contributor!r} claims {share.contributor_id!r}",
            )
