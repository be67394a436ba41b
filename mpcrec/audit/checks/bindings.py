"""Rule ``binding``: every registered key is vouched for by the federation CA.

Each registration entry must carry a certificate of the federation CA naming the instance and
a key binding by that certificate's key over exactly the registered signing and sealing keys
(:func:`mpcrec.crypto.binding.verify_binding`). Validity periods are not checked: the log has
no trusted clock, and the nodes checked them when they used the keys. Pure: the CA
certificate comes in as bytes.
"""

from __future__ import annotations

from mpcrec.audit.history import Finding, History
from mpcrec.crypto.binding import verify_binding
from mpcrec.errors import ProtocolError


def check_bindings(history: History, ca_pem: bytes) -> list[Finding]:
    """A ``binding`` finding for each registration its CA certificate does not vouch for."""
    out: list[Finding] = []
    for instance, entry in sorted(history.registrations.items()):
        payload = entry.payload
        try:
            verify_binding(
                bytes.fromhex(str(payload.get("certificate", ""))),
                bytes.fromhex(str(payload.get("key_binding", ""))),
                ca_pem=ca_pem,
                instance_id=instance,
                signing_key=bytes.fromhex(str(payload["signing_key"])),
                sealing_key=bytes.fromhex(str(payload["sealing_key"])),
                at=None,
            )
        except (ProtocolError, ValueError, KeyError) as err:
            out.append(Finding("binding", entry.index, f"{instance}'s keys are not bound: {err}"))
    return out
