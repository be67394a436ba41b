"""A launcher that relays envelopes its own header check would turn away
(``pass-envelopes``), so that what stops a malicious contributor's envelope is the
members' own check, not the launcher's.

The honest launcher reads each sealed envelope's public header at upload and refuses one
that names another contributor or round than its upload
(:func:`launch.admission.check_sealed_headers`): a contributor claiming another's slot, or
replaying an envelope of an earlier round, never reaches a member. This attack runs that
check and, when it refuses, records why (``learned["let_through"]``: round, contributor,
why) and relays the upload anyway. Everything else is the real launcher.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import launch.admission
from mpcrec.federation.refusals import InvalidMessage
from tests.adversarial.hooks import Attack

_REAL_HEADER_CHECK = launch.admission.check_sealed_headers


class PassEnvelopes(Attack):
    """The real launcher without its refusal of envelopes claiming another slot or round."""

    name = "pass-envelopes"

    def setup(self, config: Path) -> None:
        super().setup(config)
        launch.admission.check_sealed_headers = self.check_sealed_headers

    def check_sealed_headers(self, upload: Any) -> None:
        """The real check; what it refuses is recorded and let through."""
        try:
            _REAL_HEADER_CHECK(upload)
        except InvalidMessage as err:
            why = {"round": upload.round_id, "contributor": upload.contributor, "why": str(err)}
            self.learned.add("let_through", why)

    def upload_attempt(self, launcher: Any, upload: Any) -> None:
        self.learned.add("uploads", [upload.round_id, upload.contributor])


def envelope_attacks() -> dict[str, type[Attack]]:
    """The attacks of this module by name (registered in :data:`attacks.ATTACKS`)."""
    return {PassEnvelopes.name: PassEnvelopes}
